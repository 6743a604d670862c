"""Masters for a machine that may not hold the library: the library file, else a verified copy from S3 (no Prefect).

With DOCFILM_LIBRARY_S3=on, ingest puts each master into S3 as `masters/<sha256>`; a worker that lacks the
library file fetches it from there into the bounded cache (delivery.cache), checking its SHA-256 on the way.
An object that no longer has the asset's SHA-256 quarantines the asset with that reason.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from assets_manifest.errors import MasterQuarantined, MasterUnavailable
from assets_manifest.store import Asset

from .workspace import Workspace

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from delivery.cache import ObjectCache

__all__ = ["library_master", "local_master", "master_cache", "stored_master_key"]

log = logging.getLogger(__name__)


def library_master(asset: Asset) -> Path | None:
    """The asset's library file when this machine has it with the size the ledger recorded, else None.

    The size is the cheap check (the library copy was verified at ingest; `docfilm verify` re-hashes it).
    """
    path = Path(asset.path)
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if size != asset.size:
        log.warning("library file %s has %d bytes, the ledger says %d: not used", path, size, asset.size)
        return None
    return path


def stored_master_key(ws: Workspace, asset: Asset) -> str | None:
    """The S3 key of the asset's master: the one the ledger recorded, else `masters/<sha256>` when masters go
    to S3 (DOCFILM_LIBRARY_S3=on), else None."""
    from delivery.keys import master_key

    recorded = getattr(asset, "master_key", None)
    if recorded:
        return str(recorded)
    return master_key(asset.sha256) if ws.settings.s3.library_s3 else None


def master_cache(ws: Workspace) -> ObjectCache:
    """The workspace's cache of masters (DOCFILM_HOME/cache/masters, at most DOCFILM_CACHE_MAX_GIB)."""
    from delivery.cache import ObjectCache

    return ObjectCache(ws.settings.s3.masters_cache_dir, ws.settings.s3.cache_max_bytes)


def local_master(ws: Workspace, asset: Asset, store: tuple[S3Client, str] | None = None) -> Path:
    """A local path to the asset's verified master: the library file, else a cached copy fetched from S3.

    `store` is an open (client, bucket) to reuse; without one, the configured store is opened only when a fetch
    is needed. MasterQuarantined when the S3 object no longer has the asset's SHA-256 (the asset is quarantined
    in the ledger with that reason); MasterUnavailable when there is no library file and no object to fetch.
    S3Unreachable (exit 3) when S3 cannot be reached.
    """
    from delivery.errors import CachedObjectMismatch, ObjectMissing

    found = library_master(asset)
    if found is not None:
        return found
    suffix = Path(asset.name).suffix if _plain_suffix(Path(asset.name).suffix) else ""
    cache = master_cache(ws)
    cached = cache.get(asset.sha256, suffix)
    if cached is not None:
        return cached
    key = stored_master_key(ws, asset)
    if key is None:
        raise MasterUnavailable(
            f"master of {asset.name} ({asset.asset_id}) is not at {asset.path} and masters are not in S3 "
            "(DOCFILM_LIBRARY_S3=off): run where the library is, or ingest with DOCFILM_LIBRARY_S3=on"
        )
    with ExitStack() as stack:
        if store is None:
            from delivery.store import open_store

            store = stack.enter_context(open_store(ws.settings.s3))
        client, bucket = store
        try:
            fetched = cache.fetch(client, bucket, key, asset.sha256, suffix=suffix, expected_bytes=asset.size)
        except CachedObjectMismatch as exc:
            reason = str(exc)
            ws.ledger.quarantine(asset.path, asset.path_bytes, reason, asset.sha256)
            log.error("quarantined %s: %s", asset.name, reason)
            raise MasterQuarantined(f"{asset.name} ({asset.asset_id}) quarantined: {reason}") from exc
        except ObjectMissing as exc:
            raise MasterUnavailable(
                f"master of {asset.name} ({asset.asset_id}) is not at {asset.path} nor in S3: {exc}"
            ) from exc
    return fetched.path


def _plain_suffix(suffix: str) -> bool:
    """A suffix worth keeping on a cached file (ffmpeg's image readers go by it): short, letters and digits."""
    return 1 < len(suffix) <= 17 and suffix[1:].isalnum() and suffix[1:].isascii()

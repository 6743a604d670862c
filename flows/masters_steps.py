"""Masters for a machine that may not hold the library: the library file, else a verified copy from S3 (no Prefect).

With DOCFILM_LIBRARY_S3=on, ingest puts each master into S3 as `masters/<sha256>`; a worker that lacks the
library file fetches it from there into the bounded cache (delivery.cache), checking its SHA-256 on the way.
An object that no longer has the asset's SHA-256 quarantines the asset with that reason.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from assets_manifest.errors import MasterQuarantined, MasterUnavailable
from assets_manifest.store import Asset, Upload
from core.part_hashes import PartHashes, PartHashing, hash_file_parts

from .workspace import Workspace

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from delivery.cache import ObjectCache
    from delivery.records import UploadResult

__all__ = ["MasterStored", "RenditionsAtHand", "library_master", "local_master", "master_cache", "store_master",
           "store_masters", "store_renditions", "stored_master_key"]

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
    key = stored_master_key(ws, asset)
    if key is None and Path(asset.path).is_file():
        return Path(asset.path)  # not the size recorded, and no copy in S3: the render decides what it holds
    suffix = Path(asset.name).suffix if _plain_suffix(Path(asset.name).suffix) else ""
    cache = master_cache(ws)
    cached = cache.get(asset.sha256, suffix)
    if cached is not None:
        return cached
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
            ws.ledger.quarantine_master(asset, reason)
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


@dataclass(frozen=True)
class MasterStored:
    """One asset's master in S3: its key and the server's ETag and VersionId; `uploaded` False when it was
    already there (recorded in the ledger, or an object with the same SHA-256 and size)."""

    asset_id: str
    key: str
    etag: str | None
    version_id: str | None
    uploaded: bool

    def to_json(self) -> dict[str, object]:
        return {"asset_id": self.asset_id, "key": self.key, "etag": self.etag, "version_id": self.version_id,
                "uploaded": self.uploaded}


def _upload_row(endpoint: str, bucket: str, path: Path, sha256: str, res: UploadResult, asset_id: str,
                role: str) -> Upload:
    return Upload(endpoint=endpoint, bucket=bucket, key=res.key, local_path=str(path), sha256=sha256,
                  checksum=res.checksum, bytes=res.bytes, etag=res.etag, version_id=res.version_id,
                  asset_id=asset_id, role=role)


def store_master(ws: Workspace, asset: Asset, client: S3Client, bucket: str) -> MasterStored:
    """Put the asset's library master into S3 as `masters/<sha256>`, its SHA-256 checked by the server, and
    record key, ETag and VersionId in the ledger. A master the ledger already records as stored is not sent,
    unless it was quarantined (its object no longer had the SHA-256): then it is sent again, which lifts the
    quarantine.

    The ledger's SHA-256 is sent as the expected checksum, and the parts' SHA-256 ingest recorded in the read
    that hashed the master (revision 0007) are sent for the server to check each part, so the file is not hashed
    again here: bytes that no longer have them are refused by the server (ChecksumMismatch). A master ingested
    without part hashes has its parts hashed while they go, as before.
    """
    from delivery.keys import master_key
    from delivery.upload import upload_verified

    if asset.master_key and not asset.master_quarantine:
        return MasterStored(asset.asset_id, asset.master_key, asset.master_etag, asset.master_version_id, False)
    path = library_master(asset)
    if path is None:
        raise MasterUnavailable(f"master of {asset.name} ({asset.asset_id}) is not at {asset.path}: not stored")
    key = master_key(asset.sha256)
    res = upload_verified(
        client, bucket, key, path, ws.settings.s3, sha256_hex=asset.sha256, part_hashes=asset.part_hashes,
        metadata={"docfilm-role": "master", "docfilm-asset": asset.asset_id, "docfilm-name": asset.name},
        content_type="application/octet-stream",
    )
    ws.ledger.record_master_stored(asset.asset_id, res.key, res.etag, res.version_id)
    ws.ledger.record_upload(_upload_row(client.meta.endpoint_url, bucket, path, asset.sha256, res, asset.asset_id,
                                        "master"))
    log.info("master of %s %s %s", asset.name, "already in" if res.skipped else "stored in", f"s3://{bucket}/{key}")
    return MasterStored(asset.asset_id, res.key, res.etag, res.version_id, not res.skipped)


def store_masters(ws: Workspace, asset_ids: Iterable[str]) -> tuple[list[MasterStored], list[tuple[Asset, str]]]:
    """Store the masters of these assets (those not yet stored), opening S3 only when one needs sending.

    Returns what is stored and, for each master that could not be, its asset and the reason (a library file
    gone or changed); S3Unreachable (exit 3) is raised, not listed.
    """
    from delivery.errors import ChecksumMismatch

    wanted = set(asset_ids)
    assets = [a for a in ws.ledger.assets() if a.asset_id in wanted]
    usable = {a.asset_id for a in assets if a.master_key and not a.master_quarantine}
    stored = [MasterStored(a.asset_id, a.master_key, a.master_etag, a.master_version_id, False)
              for a in assets if a.asset_id in usable and a.master_key]
    todo = [a for a in assets if a.asset_id not in usable]
    failed: list[tuple[Asset, str]] = []
    if not todo:
        return stored, failed
    from delivery.store import open_store

    with open_store(ws.settings.s3) as (client, bucket):
        for asset in todo:
            try:
                stored.append(store_master(ws, asset, client, bucket))
            except (ChecksumMismatch, MasterUnavailable) as exc:
                log.error("master of %s not stored in S3: %s", asset.name, exc)
                failed.append((asset, str(exc)))
    return stored, failed


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def hashed_for_upload(path: Path, hashing: PartHashing) -> tuple[str, PartHashes | None]:
    """A file's SHA-256 (hex) and, when it goes to S3 in parts, its parts' SHA-256, all in one read."""
    if not hashing.wanted(path.stat().st_size):
        return file_sha256(path), None
    sha256, _size, parts = hash_file_parts(path, hashing.part_size)
    return sha256, parts


def store_renditions(ws: Workspace, asset: Asset, files: dict[str, Path],
                     store: tuple[S3Client, str] | None = None) -> dict[str, tuple[str, str]]:
    """Put a render's files ("proxy", "poster", "sheet" → path) into S3 as `proxies/<profile>/<asset id>…`, each
    read once here for its SHA-256 (and, when it goes in parts, its parts' SHA-256, sent for the server to check:
    the upload hashes nothing more) and verified by the server; recorded as uploads. Returns role → (key, SHA-256
    hex)."""
    from core.vocabulary import content_type
    from delivery.keys import rendition_key
    from delivery.upload import upload_verified

    profile_hash = ws.profile.profile_hash()
    stored: dict[str, tuple[str, str]] = {}
    rows: list[Upload] = []
    with ExitStack() as stack:
        if store is None:
            from delivery.store import open_store

            store = stack.enter_context(open_store(ws.settings.s3))
        client, bucket = store
        for role, path in files.items():
            sha256, parts = hashed_for_upload(path, ws.settings.s3.part_hashing)
            key = rendition_key(profile_hash, asset.asset_id, role, path.suffix)
            metadata = {"docfilm-role": role, "docfilm-master-asset": asset.asset_id}
            if asset.scene_id:
                metadata["docfilm-scene"] = asset.scene_id
            res = upload_verified(client, bucket, key, path, ws.settings.s3, sha256_hex=sha256, metadata=metadata,
                                  content_type=content_type(path.suffix.lower()), part_hashes=parts)
            rows.append(_upload_row(client.meta.endpoint_url, bucket, path, sha256, res, asset.asset_id, role))
            stored[role] = (key, sha256)
    ws.ledger.record_uploads(rows)
    return stored


class RenditionsAtHand:
    """Local paths of a proxy row's files ("proxy", "poster", "sheet"): on this machine's disk, else fetched from
    the S3 key the worker that made them recorded, into DOCFILM_HOME/cache/renditions (SHA-256 checked, bounded
    like the masters' cache). The S3 client is opened when the first fetch needs it; use as a context manager.

    A file neither on disk nor to be had from S3 (no key, gone, or changed) is None, with a warning: the packet
    lists such a clip as missing. S3Unreachable (exit 3) is raised.
    """

    def __init__(self, ws: Workspace, store: tuple[S3Client, str] | None = None) -> None:
        self.ws = ws
        self._cache: ObjectCache | None = None
        self._store = store
        self._stack = ExitStack()

    @property
    def cache(self) -> ObjectCache:
        """The renditions' cache, made when a file is not on disk (its module imports boto3: ~0.5 s)."""
        if self._cache is None:
            from delivery.cache import ObjectCache

            self._cache = ObjectCache(self.ws.settings.s3.home.absolute() / "cache" / "renditions",
                                      self.ws.settings.s3.cache_max_bytes)
        return self._cache

    def __enter__(self) -> RenditionsAtHand:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stack.close()

    def _opened(self) -> tuple[S3Client, str]:
        if self._store is None:
            from delivery.store import open_store

            self._store = self._stack.enter_context(open_store(self.ws.settings.s3))
        return self._store

    def path(self, proxy: Any, role: str) -> Path | None:
        """The local file of `proxy`'s `role`, fetched when it is only in S3."""
        from delivery.errors import CachedObjectMismatch, ObjectMissing

        recorded = {"proxy": proxy.proxy_path, "poster": proxy.poster_path,
                    "sheet": (proxy.qc or {}).get("contact_sheet")}.get(role)
        if isinstance(recorded, str) and recorded and Path(recorded).is_file():
            return Path(recorded)
        key, sha256 = getattr(proxy, f"{role}_key", None), getattr(proxy, f"{role}_sha256", None)
        if not key or not sha256:
            return None
        suffix = Path(key).suffix
        cached = self.cache.get(sha256, suffix)
        if cached is not None:
            return cached
        client, bucket = self._opened()
        try:
            return self.cache.fetch(client, bucket, key, sha256, suffix=suffix).path
        except (CachedObjectMismatch, ObjectMissing) as exc:
            log.warning("%s of %s not fetched from S3: %s", role, proxy.asset_id, exc)
            return None

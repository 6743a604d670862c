"""The work of each pipeline step as plain functions over a Workspace (no Prefect here).

Flows wrap these as tasks; `status` uses them without importing Prefect.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from assets_manifest.hashing import digest_file
from assets_manifest.store import STORED_ROLES, Asset, Upload
from core.jsontypes import JsonObject
from core.vocabulary import content_type
from delivery.records import UploadResult

from .workspace import Workspace

if TYPE_CHECKING:
    from renders.outcome import QcRecord

    from .results import RenderedProxy, RenderFailure

log = logging.getLogger(__name__)


def proxy_source(asset: Asset, film_rate: Fraction, master: Path | None = None) -> Any:
    """The render input for an asset of the ledger; one without a rate of its own (a still) runs at the film's.

    `master` is where this machine reads the master (flows.masters_steps.local_master); default the library path.
    """
    from core.vocabulary import HDR_TRANSFER_BY_NAME, MediaKind
    from renders.source import ProxySource, inspect_source

    probe = asset.probe or {}
    usable_audio = tuple(
        int(t["index"]) for t in probe.get("audio_tracks") or []
        if isinstance(t, dict) and t.get("channels") and t.get("sample_rate") and "index" in t
    )
    src = ProxySource(
        asset_id=asset.asset_id,
        path=master or Path(asset.path),
        display_name=asset.name,
        fps_num=asset.fps_num if asset.fps_num and asset.fps_den else film_rate.numerator,
        fps_den=asset.fps_den if asset.fps_num and asset.fps_den else film_rate.denominator,
        width=asset.width or 0,
        height=asset.height or 0,
        rotation=asset.rotation,
        interlaced=asset.field_order in ("tt", "bb", "tb", "bt"),
        start_timecode=asset.start_timecode,
        has_audio=asset.audio_tracks > 0,
        duration_frames=asset.duration_frames or 0,
        kind=cast("MediaKind", asset.kind),  # checked by ProxySource
        color_transfer=HDR_TRANSFER_BY_NAME.get(probe.get("hdr") or ""),
        audio_streams=usable_audio,
    )
    # Rows probed before the ledger recorded HDR transfers: look at the file (a few ms).
    return src if "hdr" in probe else inspect_source(src)


def _proxy_files_present(proxy: Any) -> bool:
    """The proxy's files are in S3 (a worker stored them: their keys are recorded) or on this machine's disk."""
    if getattr(proxy, "proxy_key", None) and getattr(proxy, "poster_key", None):
        return True
    paths = [proxy.proxy_path, proxy.poster_path, (proxy.qc or {}).get("contact_sheet")]
    return bool(proxy.proxy_path and proxy.poster_path) and all(Path(p).exists() for p in paths if p)


def render_plan(ws: Workspace, *, everything: bool = False, scene: str | None = None) -> tuple[list[Asset], int]:
    """Assets to render now (video, audio and stills) and how many are skipped as up to date.

    Stale means: no finished proxy for this (master hash, profile hash) in the ledger, or its files are
    gone from disk. `everything` renders every asset again. One ledger query, then a stat per file. An asset
    whose master is quarantined is neither: it waits for its master to be ingested again (`status` says why).
    """
    rows = ws.ledger.render_states(ws.profile.profile_hash(), scene_id=scene)
    todo = []
    held = [asset for asset, _ in rows if asset.master_quarantine]
    if held:
        log.warning("%d asset(s) not rendered, their master quarantined until ingested again: %s", len(held),
                    "; ".join(f"{a.name}: {a.master_quarantine}" for a in held[:5]))
        rows = [(asset, proxy) for asset, proxy in rows if not asset.master_quarantine]
    for asset, proxy in rows:
        if everything or proxy is None or proxy.state != "done":
            todo.append(asset)
        elif not _proxy_files_present(proxy):
            log.warning("proxy of %s is missing on disk; rendering it again", asset.name)
            todo.append(asset)
    todo.sort(key=lambda a: (a.scene_id or "~", a.name))
    return todo, len(rows) - len(todo)


def clip_timeout_s(asset: Asset) -> float:
    """A per-clip limit scaled to its length: 4K decodes at ~2x real time here, so allow 10x plus start-up."""
    if not (asset.fps_num and asset.fps_den and asset.duration_frames):
        return 120.0  # a still, or a length the ledger does not know
    seconds = asset.duration_frames * asset.fps_den / asset.fps_num
    return 120.0 + 10.0 * seconds


@dataclass(frozen=True)
class RenderOutcome:
    """One asset's render: its files and QC record, or the reason it failed (`qc` is None then)."""

    asset_id: str
    name: str
    proxy: Path | None = None
    poster: Path | None = None
    contact_sheet: Path | None = None
    qc: QcRecord | None = None
    reason: str | None = None

    @property
    def failed(self) -> bool:
        return self.qc is None

    def rendered(self) -> RenderedProxy:
        """As a render run lists it under `rendered` (its QC as the ledger stores it)."""
        from .results import RenderedProxy

        if self.qc is None:
            raise ValueError(f"{self.asset_id} was not rendered: {self.reason}")
        return RenderedProxy(self.asset_id, self.name, str(self.proxy), str(self.poster),
                             str(self.contact_sheet) if self.contact_sheet else None, self.qc.to_json())

    def failure(self) -> RenderFailure:
        from .results import RenderFailure

        return RenderFailure(self.asset_id, self.name, self.reason)


def render_asset(ws: Workspace, asset: Asset, on_progress: Callable[[int], None] | None = None,
                 store: tuple[Any, str] | None = None) -> RenderOutcome:
    """Render one proxy and record the outcome; a failure is returned, not raised.

    The master is read through flows.masters_steps.local_master (the library file, else a verified copy from
    S3). With DOCFILM_LIBRARY_S3=on the proxy, poster and contact sheet go into S3 before the ledger records them
    (`store`: an open (client, bucket) to reuse; else one is opened when needed).

    The ledger calls the proxy done only after its files are in place (renders renames them from temp
    names on success; in S3 when masters are), so a render killed at any point leaves the asset stale for the
    next run.
    """
    from assets_manifest.errors import MasterUnavailable
    from renders.errors import RenderBusy, RenderError
    from renders.render import render_source

    from .masters_steps import local_master

    profile_hash = ws.profile.profile_hash()
    out_dir = ws.renders_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        master = local_master(ws, asset, store)
    except MasterUnavailable as exc:  # quarantined (a corrupt S3 object), or nowhere to be had: this asset fails
        reason = str(exc)
        ws.ledger.record_proxy(asset.asset_id, profile_hash, state="failed", reason=reason)
        log.error("render of %s failed: %s", asset.name, reason)
        return RenderOutcome(asset.asset_id, asset.name, reason=reason)
    try:
        result = render_source(
            proxy_source(asset, Fraction(ws.film.film.fps), master), ws.profile, out_dir, ws.settings.renders,
            timeout_s=clip_timeout_s(asset),
            on_progress=on_progress,
        )
    except RenderBusy as exc:
        # Not a failure of the clip: whoever holds the lock records the outcome; the ledger stays as it is.
        log.warning("%s", exc)
        return RenderOutcome(asset.asset_id, asset.name, reason=str(exc))
    except RenderError as exc:
        reason = str(exc)
        ws.ledger.record_proxy(asset.asset_id, profile_hash, state="failed", reason=reason)
        log.error("render of %s failed: %s", asset.name, reason)
        return RenderOutcome(asset.asset_id, asset.name, reason=reason)
    qc = replace(result.qc, render_seconds=round(time.monotonic() - started, 2))
    stored = None
    if ws.settings.s3.library_s3:
        from .masters_steps import store_renditions

        files = {"proxy": result.proxy, "poster": result.poster}
        if result.contact_sheet is not None:
            files["sheet"] = result.contact_sheet
        stored = store_renditions(ws, asset, files, store)
    ws.ledger.record_proxy(
        asset.asset_id, profile_hash, state="done", proxy_path=result.proxy, poster_path=result.poster,
        qc=qc, stored=stored,
    )
    return RenderOutcome(asset.asset_id, asset.name, result.proxy, result.poster, result.contact_sheet, qc)


@dataclass(frozen=True)
class UploadItem:
    """One file to deliver."""

    key: str
    path: Path
    asset_id: str | None
    role: str
    content_type: str
    scene: str | None
    sha256: str | None = None  # as the render worker hashed it (the ledger), so it is not hashed again


def upload_plan(ws: Workspace) -> list[UploadItem]:
    """Every finished proxy and poster of the current profile, with its object key.

    Files the render worker already stored in S3 (under proxies/, DOCFILM_LIBRARY_S3=on) are not stored again.
    """
    from delivery.keys import object_key

    items: list[UploadItem] = []
    assets = {a.asset_id: a for a in ws.ledger.assets()}
    for asset_id, p in sorted(ws.ledger.proxies(ws.profile.profile_hash()).items()):
        a = assets.get(asset_id)
        if a is None or p.state != "done" or not p.proxy_path or not p.poster_path:
            continue
        scene = a.scene_id or "unassigned"
        stem = Path(a.name).stem
        # Audio proxies are .m4a and still proxies .jpg: the key keeps the proxy's own suffix.
        suffix = Path(p.proxy_path).suffix.lower()
        if not p.proxy_key:
            items.append(UploadItem(object_key("proxies", scene, f"{stem}__{asset_id}{suffix}"),
                                    Path(p.proxy_path), asset_id, "proxy", content_type(suffix),
                                    a.scene_id, p.proxy_sha256))
        if not p.poster_key:
            items.append(UploadItem(object_key("posters", scene, f"{stem}__{asset_id}.jpg"),
                                    Path(p.poster_path), asset_id, "poster", content_type(".jpg"), a.scene_id,
                                    p.poster_sha256))
    return items


def upload_item(ws: Workspace, client: Any, bucket: str, endpoint: str, item: UploadItem) -> UploadResult:
    """Upload (or skip) one file with a server-verified SHA-256 and record it in the ledger."""
    from delivery.upload import upload_verified

    sha256 = item.sha256 or digest_file(item.path).sha256
    metadata = {"docfilm-role": item.role}
    if item.asset_id:
        metadata["docfilm-master-asset"] = item.asset_id
    if item.scene:
        metadata["docfilm-scene"] = item.scene
    res = upload_verified(
        client, bucket, item.key, item.path, ws.settings.s3, sha256_hex=sha256, metadata=metadata,
        content_type=item.content_type,
    )
    ws.ledger.record_upload(
        Upload(
            endpoint=endpoint,
            bucket=bucket,
            key=res.key,
            local_path=str(item.path),
            sha256=sha256,
            checksum=res.checksum,
            bytes=res.bytes,
            etag=res.etag,
            version_id=res.version_id,
            asset_id=item.asset_id,
            role=item.role,
        )
    )
    return res


def clip_records(ws: Workspace) -> list[Any]:
    """The ledger's assets as the review package's plain records, their proxies' files on this machine (fetched
    from S3 into the cache when a worker elsewhere made them)."""
    from .masters_steps import RenditionsAtHand

    proxies = ws.ledger.proxies(ws.profile.profile_hash())
    with RenditionsAtHand(ws) as at_hand:
        return [_clip_record(a, proxies.get(a.asset_id), at_hand) for a in ws.ledger.assets()]


def _clip_record(a: Asset, p: Any, at_hand: Any) -> Any:
    from review.records import ClipRecord

    done = p is not None and p.state == "done"
    proxy = poster = sheet = None
    if done:
        # A file neither here nor in S3 keeps its recorded path: review lists the clip as missing.
        proxy = at_hand.path(p, "proxy") or (Path(p.proxy_path) if p.proxy_path else None)
        poster = at_hand.path(p, "poster") or (Path(p.poster_path) if p.poster_path else None)
        sheet = at_hand.path(p, "sheet") or _contact_sheet(p)
    return ClipRecord(
        asset_id=a.asset_id,
        name=a.name,
        scene_id=a.scene_id,
        shot_id=a.shot_id,
        kind=a.kind,
        duration_frames=a.duration_frames,
        fps=a.fps,
        width=a.width,
        height=a.height,
        rotation=a.rotation,
        start_timecode=a.start_timecode,
        sha256=a.sha256,
        proxy=proxy,
        poster=poster,
        proxy_state=p.state if p else None,
        proxy_reason=p.reason if p else None,
        qc=p.qc if p and p.qc else None,
        contact_sheet=sheet,
        quarantined=a.master_quarantine,
    )


def _contact_sheet(proxy: Any) -> Path | None:
    """The contact sheet renders made for a proxy, when it made one (a column, or a path in its QC record)."""
    path = getattr(proxy, "contact_sheet_path", None) or (proxy.qc or {}).get("contact_sheet")
    return Path(path) if isinstance(path, str) and path else None


@dataclass(frozen=True)
class StoredObject:
    """Where one file of an asset was delivered, as the ledger recorded its verified upload."""

    role: str
    endpoint: str  # host:port only: a URL could carry credentials
    bucket: str
    key: str
    bytes: int
    sha256: str
    checksum: str
    etag: str | None
    version_id: str | None
    uploaded_at: str
    local_path: str
    current: bool  # the file is the asset's proxy or poster of the current render profile

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class ProxyRecord:
    """The asset's proxy under the current render profile."""

    state: str
    profile_hash: str
    path: str | None
    poster: str | None
    contact_sheet: str | None
    reason: str | None
    rendered_at: str
    qc: JsonObject  # the QC record as the ledger stores it (renders' QcRecord.to_json; older rows another form)
    stored: dict[str, dict[str, str | None]] = field(default_factory=dict)  # role -> {"key", "sha256"} in S3
    worker: str | None = None  # the farm worker that made it (None: rendered by a local run)

    def qc_summary(self) -> JsonObject:
        """The QC verdict at a glance: the rules flagged, loudness and decode errors (read from the stored JSON,
        whatever its generation)."""
        stored_flags, loudness, errors = self.qc.get("flags"), self.qc.get("loudness"), self.qc.get("decode_errors")
        flags = [f.get("rule") if isinstance(f, dict) else str(f)
                 for f in (stored_flags if isinstance(stored_flags, list) else [])]
        levels = loudness if isinstance(loudness, dict) else {}
        return {
            "flagged": bool(flags),
            "flags": flags,
            "integrated_lufs": levels.get("integrated_lufs"),
            "true_peak_dbtp": levels.get("true_peak_dbtp"),
            "decode_errors": self.qc.get("decode_error_count", len(errors) if isinstance(errors, list) else 0),
            "render_seconds": self.qc.get("render_seconds"),
        }


@dataclass(frozen=True)
class AssetRecord:
    """Everything the ledger holds about one asset: the master, its proxy and where its files are stored."""

    asset: Asset
    sightings: list[str]
    proxy: ProxyRecord | None
    stored: list[StoredObject]

    def to_json(self) -> JsonObject:
        """`show --json`: ingest's item keys, then the master, its proxy (with QC) and where its files are stored."""
        from assets_manifest.report import IngestedItem

        a = self.asset
        entry = IngestedItem.from_asset(a).to_json() | {
            "name": a.name,
            "library_path": a.path,
            "size": a.size,
            "container": a.container,
            "video_codec": a.video_codec,
            "ingested_at": a.ingested_at.isoformat(),
            "probe": a.probe,
            "sightings": self.sightings,
        }
        proxy = self.proxy
        entry["proxy"] = None if proxy is None else {
            "state": proxy.state, "profile_hash": proxy.profile_hash, "path": proxy.path, "poster": proxy.poster,
            "contact_sheet": proxy.contact_sheet, "reason": proxy.reason, "rendered_at": proxy.rendered_at,
            "key": (proxy.stored.get("proxy") or {}).get("key"), "s3": proxy.stored, "worker": proxy.worker,
            "qc_summary": proxy.qc_summary(), "qc": proxy.qc,
        }
        entry["master"] = {"library_path": a.path, "key": a.master_key, "etag": a.master_etag,
                           "version_id": a.master_version_id, "quarantined": a.master_quarantine}
        entry["stored"] = [
            {"role": o.role, "url": o.url, "endpoint": o.endpoint, "bucket": o.bucket, "key": o.key,
             "bytes": o.bytes, "sha256": o.sha256, "checksum": o.checksum, "etag": o.etag,
             "version_id": o.version_id, "uploaded_at": o.uploaded_at, "local_path": o.local_path,
             "current": o.current}
            for o in self.stored
        ]
        return entry


def asset_record(ws: Workspace, asset: Asset) -> AssetRecord:
    """The ledger's record of one asset: its sightings, its proxy under the current profile, its uploads."""
    from core.errors import endpoint_of

    profile_hash = ws.profile.profile_hash()
    p = ws.ledger.proxies(profile_hash).get(asset.asset_id)
    proxy = None
    if p is not None:
        from assets_manifest.leases import DONE, Leases

        farm = Leases(ws.ledger).of_asset(asset.asset_id, profile_hash)
        made = farm if farm is not None and farm.state == DONE and p.state == DONE else None
        proxy = ProxyRecord(state=p.state, profile_hash=profile_hash, path=p.proxy_path, poster=p.poster_path,
                            contact_sheet=str(sheet) if (sheet := _contact_sheet(p)) else None, reason=p.reason,
                            rendered_at=p.rendered_at.isoformat(), qc=dict(p.qc or {}),
                            stored={role: {"key": getattr(p, f"{role}_key"), "sha256": getattr(p, f"{role}_sha256")}
                                    for role in STORED_ROLES if getattr(p, f"{role}_key")},
                            worker=made.worker if made else None)
    current = {path for path in (p.proxy_path, p.poster_path) if path} if p is not None and p.state == "done" else set()
    stored = [
        StoredObject(role=u.role, endpoint=endpoint_of(u.endpoint), bucket=u.bucket, key=u.key, bytes=u.bytes,
                     sha256=u.sha256, checksum=u.checksum, etag=u.etag, version_id=u.version_id,
                     uploaded_at=u.uploaded_at.isoformat(), local_path=u.local_path, current=u.local_path in current)
        for u in sorted(ws.ledger.uploads(), key=lambda u: (u.role, u.key))
        if u.asset_id == asset.asset_id
    ]
    return AssetRecord(asset=asset, sightings=[s.path for s in ws.ledger.sightings(asset.asset_id)], proxy=proxy,
                       stored=stored)

"""The review side of the pipeline as plain functions (no Prefect): reviewers' notes in and out of the
ledger, and publishing the hosted packet to S3.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .workspace import Workspace

if TYPE_CHECKING:
    from editorial.resolve import CutMap
    from review.hosted import HostedLinks
    from review.notes import ReviewNote
    from review.packet import PacketResult
    from review.records import CutRecord

log = logging.getLogger(__name__)


def review_notes(ws: Workspace) -> list[ReviewNote]:
    """The film's imported notes, as review's records."""
    from review.notes import ReviewNote

    return [
        ReviewNote(
            note_id=row.note_id,
            film_id=row.film_id,
            scene_id=row.scene_id,
            asset_id=row.asset_id,
            reviewer=row.reviewer,
            verdict=row.verdict,
            text=row.text,
            frame=row.frame,
            timecode=row.timecode,
            fps=row.fps,
            written_at=row.written_at if row.written_at.tzinfo else row.written_at.replace(tzinfo=UTC),
            packet_id=row.packet_id,
            manifest_sha256=row.manifest_sha256,
            source_file=row.source_file,
            file_sha256=row.file_sha256,
        )
        for row in ws.ledger.review_notes(ws.film.film.id)
    ]


def import_notes(ws: Workspace, path: Path) -> dict[str, Any]:
    """Validate a reviewer's exported notes file and store its new notes; NotesRefused writes nothing.

    Importing the same file (or an overlapping later export) again stores nothing twice.
    """
    from assets_manifest.store import ReviewNoteRow
    from review.notes import check_notes, new_notes, read_notes_file, scene_review_states

    from .steps import clip_records

    notes_file, file_sha256 = read_notes_file(path)
    cuts = cut_maps(ws) if any(n.cut for n in notes_file.notes) else {}
    incoming = check_notes(notes_file, ws.film, clip_records(ws), path.name, file_sha256, cuts)
    stored = review_notes(ws)
    fresh = new_notes(incoming, stored, path.name)
    added = ws.ledger.add_review_notes(
        [
            ReviewNoteRow(
                note_id=n.note_id, film_id=n.film_id, scene_id=n.scene_id, asset_id=n.asset_id, reviewer=n.reviewer,
                verdict=n.verdict, text=n.text, frame=n.frame, timecode=n.timecode, fps=n.fps,
                written_at=n.written_at, packet_id=n.packet_id, manifest_sha256=n.manifest_sha256,
                source_file=n.source_file, file_sha256=n.file_sha256,
            )
            for n in fresh
        ]
    )
    states = scene_review_states(review_notes(ws))
    touched = sorted({n.scene_id for n in incoming})
    log.info("notes %s from %s: %d new, %d already imported", path.name, notes_file.reviewer, len(added),
             len(incoming) - len(added))
    return {
        "file": str(path),
        "reviewer": incoming[0].reviewer if incoming else notes_file.reviewer,
        "packet_id": notes_file.packet_id,
        "notes": len(incoming),
        "imported": len(added),
        "already": len(incoming) - len(added),
        "scenes": [{"id": scene_id, "review": states.get(scene_id, "no-review")} for scene_id in touched],
        "on_film": _film_notes(notes_file, cuts),
    }


def _film_notes(notes_file: Any, cuts: dict[str, CutMap]) -> list[dict[str, Any]]:
    """Each note taken on the film, with what is under its frame of the cut version it was taken on."""
    from editorial.resolve import resolve

    out = []
    for note in notes_file.notes:
        cut = cuts.get(note.cut or "")
        if cut is None or note.frame is None:
            continue
        resolution = resolve(cut, note.frame)
        out.append({"id": note.id, "cut_version": cut.version, **(resolution.to_json() if resolution else {})})
    return out


def cut_maps(ws: Workspace) -> dict[str, CutMap]:
    """Every stored cut version of the film as a map (editorial.resolve), keyed by the version's SHA-256."""
    import opentimelineio as otio

    from editorial.catalog import video_assets
    from editorial.resolve import cut_map

    film_id = ws.film.film.id
    assets = {a.asset_id: a for a in video_assets(ws.ledger)}
    maps = {}
    for row in ws.ledger.cut_versions(film_id):
        if Path(row.path).is_file():
            timeline = otio.adapters.read_from_file(row.path, "otio_json")
            maps[row.sha256] = cut_map(timeline, film_id, Fraction(ws.film.film.fps), assets, row.version, row.sha256)
    return maps


def current_cut_map(ws: Workspace) -> CutMap | None:
    """The film's current cut as a map (editorial.resolve), None before the first cut."""
    from editorial.catalog import video_assets
    from editorial.resolve import cut_map
    from editorial.versions import current_cut

    film_id = ws.film.film.id
    if ws.ledger.current_cut(film_id) is None:
        return None
    version, timeline = current_cut(ws.ledger, film_id)
    assets = {a.asset_id: a for a in video_assets(ws.ledger)}
    return cut_map(timeline, film_id, Fraction(ws.film.film.fps), assets, version.version, version.sha256)


def packet_cut(ws: Workspace) -> CutRecord | None:
    """The current cut as the packet shows it: its map, and its rendered review cut when that is current.

    None before the first cut. The review cut is current when `docfilm cut render` joined it from the current
    cut's segments (its state.json was made from them); otherwise the packet says there is no rendered cut.
    """
    from editorial.catalog import video_assets
    from editorial.errors import EditorialError
    from editorial.versions import current_cut
    from review.records import CutRecord

    cmap = current_cut_map(ws)
    if cmap is None:
        return None
    _version, timeline = current_cut(ws.ledger, ws.film.film.id)
    assets = {a.asset_id: a for a in video_assets(ws.ledger)}
    reason: str | None
    try:
        rendered = _rendered_review_cut(ws, timeline, assets)
    except EditorialError as exc:  # a take without a proxy: the review cut cannot be current
        rendered, reason = None, str(exc)
    else:
        reason = None
    if rendered is None:
        return CutRecord(cmap, None, None, {}, "", reason)
    folder, out, poster = rendered
    subtitles = {lang: (folder / f"subtitles.{lang}.vtt").read_text(encoding="utf-8") for lang in ("vi", "en")
                 if (folder / f"subtitles.{lang}.vtt").is_file()}
    chapters = folder / "chapters.vtt"
    return CutRecord(cmap, out, poster if poster.is_file() else None, subtitles,
                     chapters.read_text(encoding="utf-8") if chapters.is_file() else "",
                     video_start=_first_picture_time(out))


def _first_picture_time(path: Path) -> float:
    """When a file presents its first video frame, in seconds (PyAV, the container's own timestamps)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        start = stream.start_time
        return float(start * stream.time_base) if start and stream.time_base else 0.0


def _rendered_review_cut(ws: Workspace, timeline: Any, assets: dict[str, Any]) -> tuple[Path, Path, Path] | None:
    """(folder, review cut, poster) when the rendered review cut was joined from the current cut's plan."""
    import hashlib
    import json

    from editorial.review import review_dir, scene_spans
    from editorial.segments import ProxyRef, plan_cut, proxy_rate
    from renders.cut import ffmetadata_chapters

    film = ws.film
    folder = review_dir(ws.home, film.film.id)
    out, poster, state_file = folder / f"{film.film.id}-review.mp4", folder / f"{film.film.id}-review.jpg", \
        folder / "state.json"
    if not (out.is_file() and state_file.is_file()):
        return None
    # The render's own judgement where the cut steps have one (it knows every input of a segment's key).
    from . import cut_steps

    staleness = getattr(cut_steps, "review_cut_staleness", None)
    if staleness is not None:
        return None if staleness(ws).stale else (folder, out, poster)
    profile_hash = ws.profile.profile_hash()
    masters: dict[str, str] = {}
    proxies: dict[str, ProxyRef] = {}
    for asset, proxy in ws.ledger.render_states(profile_hash, kinds=("video",)):
        masters[asset.asset_id] = asset.sha256
        ref = assets.get(asset.asset_id)
        if ref is not None and proxy is not None and proxy.state == "done" and proxy.proxy_path:
            proxies[asset.asset_id] = ProxyRef(Path(proxy.proxy_path), proxy_rate(ref.fps), asset.audio_tracks > 0)
    plan = plan_cut(timeline, film.film.id, Fraction(film.film.fps), assets, masters, proxies, profile_hash)
    # The same recipe editorial.review writes into state.json: the segments joined and the chapters.
    scenes = {s.id: s for s in film.scenes}

    def title(scene: str) -> str:
        s = scenes.get(scene)
        return f"{scene} {s.title.vi} / {s.title.en}" if s is not None else scene

    meta_text = ffmetadata_chapters([(title(sc), a, b) for sc, a, b in scene_spans(plan)], f"{film.film.id} review cut")
    joined = [f"{seg.key}.mp4" for seg in plan.segments]
    made_from = hashlib.sha256(json.dumps([joined, meta_text]).encode()).hexdigest()
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (folder, out, poster) if isinstance(state, dict) and state.get("made_from") == made_from else None


def hosted_links(client: Any, bucket: str, film_id: str, expires_s: int, now: datetime | None = None) -> HostedLinks:
    """Presigned s3v4 GET links for the hosted packet's files, all valid until the same moment."""
    from delivery.upload import presign_get
    from review.hosted import HostedLinks, hosted_key

    now = now or datetime.now(UTC)
    expires = (now + timedelta(seconds=expires_s)).replace(microsecond=0)
    return HostedLinks(sign=lambda name: presign_get(client, bucket, hosted_key(film_id, name), expires_s),
                       expires=expires)


def publish_packet(ws: Workspace, client: Any, bucket: str, result: PacketResult) -> dict[str, Any]:
    """Upload the packet's media, then its hosted index.html, each verified by SHA-256; return the hosted URL.

    Objects already holding the same bytes are skipped. The index goes last, and only when every media file
    is in place, so the hosted page never links a missing object.
    """
    from assets_manifest.hashing import digest_file
    from assets_manifest.store import Upload
    from delivery.upload import presign_get, upload_verified
    from review.hosted import hosted_content_type, hosted_key

    if result.hosted_index is None or result.hosted_expires is None:
        raise ValueError(f"packet {result.packet_id} was built without hosted links")
    film_id = ws.film.film.id
    endpoint = client.meta.endpoint_url
    uploaded: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    skipped = 0
    rows: list[Upload] = []
    files = [(name, result.folder / name, sha) for name, (_size, sha) in sorted(result.media_files().items())]
    files.append(("index.html", result.hosted_index, digest_file(result.hosted_index).sha256))
    for name, path, sha in files:
        key = hosted_key(film_id, name)
        if name == "index.html" and failed:
            failed.append({"key": key, "reason": "not published: media files above failed"})
            break
        metadata = {"docfilm-role": "packet", "docfilm-film": film_id}
        if name == "index.html":
            metadata["docfilm-packet"] = result.packet_id
        try:
            res = upload_verified(client, bucket, key, path, ws.settings.s3, sha256_hex=sha, metadata=metadata,
                                  content_type=hosted_content_type(name))
        except Exception as exc:  # reported per object; the others go on
            log.error("hosted packet: %s failed: %s", key, exc)
            failed.append({"key": key, "reason": str(exc)})
            continue
        rows.append(Upload(endpoint=endpoint, bucket=bucket, key=res.key, local_path=str(path), sha256=sha,
                           checksum=res.checksum, bytes=res.bytes, etag=res.etag, asset_id=None, role="packet"))
        if res.skipped:
            skipped += 1
        else:
            uploaded.append({"key": res.key, "bytes": res.bytes, "checksum": res.checksum})
    ws.ledger.record_uploads(rows)
    url = None
    if not failed:
        remaining = int((result.hosted_expires - datetime.now(UTC)).total_seconds())
        url = presign_get(client, bucket, hosted_key(film_id, "index.html"), max(1, remaining))
    return {"url": url, "expires": result.hosted_expires.isoformat(), "uploaded": uploaded, "skipped": skipped,
            "failed": failed}

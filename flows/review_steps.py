"""The review side of the pipeline as plain functions (no Prefect): reviewers' notes in and out of the
ledger, and publishing the hosted packet to S3.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from delivery.records import UploadResult

from .results import FilmNote, NotesImport, PublishedPacket, SceneReview, UploadFailure
from .workspace import Workspace

if TYPE_CHECKING:
    from editorial.resolve import CutMap
    from figures.check import FigureCheck
    from review.hosted import HostedLinks
    from review.notes import ReviewNote
    from review.packet import PacketResult
    from review.records import CutRecord

log = logging.getLogger(__name__)


def packet_figures(ws: Workspace, as_of: date) -> list[FigureCheck]:
    """The figures the packet lists: the storyboard's and, once rendered, the review cut's subtitles'. One
    function for the packet flow and the pipeline's up-to-date check, whose packet keys must agree."""
    from figures.check import check_film_figures

    return check_film_figures(ws.film_file, ws.film, as_of=as_of, home=ws.home).figures


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


def import_notes(ws: Workspace, path: Path) -> NotesImport:
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
    return NotesImport(
        file=str(path),
        reviewer=incoming[0].reviewer if incoming else notes_file.reviewer,
        packet_id=notes_file.packet_id,
        notes=len(incoming),
        imported=len(added),
        scenes=tuple(SceneReview(scene_id, states.get(scene_id, "no-review")) for scene_id in touched),
        on_film=_film_notes(notes_file, cuts),
    )


def _film_notes(notes_file: Any, cuts: dict[str, CutMap]) -> tuple[FilmNote, ...]:
    """Each note taken on the film, with what is under its frame of the cut version it was taken on."""
    from editorial.resolve import resolve

    out = []
    for note in notes_file.notes:
        cut = cuts.get(note.cut or "")
        if cut is None or note.frame is None:
            continue
        out.append(FilmNote(note.id, cut.version, resolve(cut, note.frame)))
    return tuple(out)


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
    from editorial.errors import EditorialError
    from review.records import CutRecord

    cmap = current_cut_map(ws)
    if cmap is None:
        return None
    reason: str | None
    try:
        rendered = _rendered_review_cut(ws)
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


def _rendered_review_cut(ws: Workspace) -> tuple[Path, Path, Path] | None:
    """(folder, review cut, poster) when the rendered review cut is current: the cut steps' own judgement
    (it knows every input of a segment's key), None when it is stale or was never rendered."""
    from editorial.paths import cut_file, cut_poster, review_dir, state_file

    from .cut_steps import review_cut_staleness

    film_id = ws.film.film.id
    folder = review_dir(ws.home, film_id)
    out, poster = cut_file(folder, film_id), cut_poster(folder, film_id)
    if not (out.is_file() and state_file(folder).is_file()):
        return None
    return None if review_cut_staleness(ws).stale else (folder, out, poster)


def hosted_links(client: Any, bucket: str, film_id: str, expires_s: int, now: datetime | None = None,
                 stored: Mapping[str, str] | None = None) -> HostedLinks:
    """Presigned s3v4 GET links for the hosted packet's files, all valid until the same moment.

    `stored` (SHA-256 hex → key, see stored_renditions) names media already in the bucket: those objects are
    linked where they are instead of being copied under packets/.
    """
    from delivery.upload import presign_get
    from review.hosted import HostedLinks, hosted_key

    now = now or datetime.now(UTC)
    expires = (now + timedelta(seconds=expires_s)).replace(microsecond=0)
    return HostedLinks(sign=lambda name: presign_get(client, bucket, hosted_key(film_id, name), expires_s),
                       expires=expires,
                       stored={sha: presign_get(client, bucket, key, expires_s) for sha, key in (stored or {}).items()})


def stored_renditions(ws: Workspace) -> dict[str, str]:
    """SHA-256 (hex) → S3 key of the current profile's proxies, posters and contact sheets that render workers
    put into the bucket (DOCFILM_LIBRARY_S3=on)."""
    from assets_manifest.store import STORED_ROLES

    found: dict[str, str] = {}
    for proxy in ws.ledger.proxies(ws.profile.profile_hash()).values():
        if proxy.state != "done":
            continue
        for role in STORED_ROLES:
            key, sha256 = getattr(proxy, f"{role}_key"), getattr(proxy, f"{role}_sha256")
            if key and sha256:
                found[sha256] = key
    return found


def publish_packet(ws: Workspace, client: Any, bucket: str, result: PacketResult,
                   linked: Collection[str] = ()) -> PublishedPacket:
    """Upload the packet's media, then its hosted index.html, each verified by SHA-256; return the hosted URL.

    Objects already holding the same bytes are skipped, and media whose SHA-256 is in `linked` (the hosted page
    links its proxies/ object) is not stored again: `linked` in the result counts them. The index goes last, and
    only when every media file is in place, so the hosted page never links a missing object.
    """
    from assets_manifest.hashing import digest_file
    from assets_manifest.store import Upload
    from delivery.upload import presign_get, upload_verified
    from review.hosted import hosted_content_type, hosted_key

    if result.hosted_index is None or result.hosted_expires is None:
        raise ValueError(f"packet {result.packet_id} was built without hosted links")
    film_id = ws.film.film.id
    endpoint = client.meta.endpoint_url
    uploaded: list[UploadResult] = []
    failed: list[UploadFailure] = []
    skipped = 0
    rows: list[Upload] = []
    media = sorted(result.media_files().items())
    files = [(name, result.folder / name, sha) for name, (_size, sha) in media if sha not in linked]
    files.append(("index.html", result.hosted_index, digest_file(result.hosted_index).sha256))
    for name, path, sha in files:
        key = hosted_key(film_id, name)
        if name == "index.html" and failed:
            failed.append(UploadFailure(key, "not published: media files above failed"))
            break
        metadata = {"docfilm-role": "packet", "docfilm-film": film_id}
        if name == "index.html":
            metadata["docfilm-packet"] = result.packet_id
        try:
            res = upload_verified(client, bucket, key, path, ws.settings.s3, sha256_hex=sha, metadata=metadata,
                                  content_type=hosted_content_type(name))
        except Exception as exc:  # reported per object; the others go on
            log.error("hosted packet: %s failed: %s", key, exc)
            failed.append(UploadFailure(key, str(exc)))
            continue
        rows.append(Upload(endpoint=endpoint, bucket=bucket, key=res.key, local_path=str(path), sha256=sha,
                           checksum=res.checksum, bytes=res.bytes, etag=res.etag, asset_id=None, role="packet"))
        if res.skipped:
            skipped += 1
        else:
            uploaded.append(res)
    ws.ledger.record_uploads(rows)
    url = None
    if not failed:
        remaining = int((result.hosted_expires - datetime.now(UTC)).total_seconds())
        url = presign_get(client, bucket, hosted_key(film_id, "index.html"), max(1, remaining))
    return PublishedPacket(url=url, expires=result.hosted_expires.isoformat(), uploaded=tuple(uploaded),
                           skipped=skipped, failed=tuple(failed), linked=len(media) - (len(files) - 1))

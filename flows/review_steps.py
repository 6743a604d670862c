"""The review side of the pipeline as plain functions (no Prefect): reviewers' notes in and out of the
ledger, and publishing the hosted packet to S3.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .workspace import Workspace

if TYPE_CHECKING:
    from review.hosted import HostedLinks
    from review.notes import ReviewNote
    from review.packet import PacketResult

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
    incoming = check_notes(notes_file, ws.film, clip_records(ws), path.name, file_sha256)
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
    }


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
                   linked: Collection[str] = ()) -> dict[str, Any]:
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
    uploaded: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    skipped = 0
    rows: list[Upload] = []
    media = sorted(result.media_files().items())
    files = [(name, result.folder / name, sha) for name, (_size, sha) in media if sha not in linked]
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
            "failed": failed, "linked": len(media) - (len(files) - 1)}

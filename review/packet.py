"""The review packet: one folder (and its zip) that reviewers open in a browser, offline, plus a hosted copy.

Layout of `out_root/<film id>/`:
- `index.html`: CSS and one script inlined. The Content-Security-Policy allows that script only (by its
  SHA-256), no network (`connect-src` stays 'none') and media from the packet itself; every piece of user
  text is escaped by the template and set with textContent by the script (see `review.page`).
- `media/`: proxies, posters and contact sheets under names derived from the asset id, linked relatively so
  the folder works from file:// on a laptop or a USB stick (see `review.media`).
- `manifest.json` (every file with size and SHA-256, the ledger revision) and `packet-state.json` (what this
  packet showed, for marking changes in the next one): see `review.manifest`.
`out_root/<film id>.zip` holds the same folder. With `hosted` links, `out_root/<film id>.hosted.html` is the
same page with every media link a presigned URL and the expiry printed, to be uploaded beside the media.

A rebuild from unchanged inputs does nothing at all (see `review.rebuild`). Other rebuilds are atomic and
cheap: the new packet is built in a sibling temporary folder and swapped in only when complete (see
`review.writing`), and a media file is never rewritten when it did not change. Media hashes are reused from
the previous build when size and mtime match; the zip takes the media in a process of its own (review.zip_media)
while the page renders.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from review.cards import clean_reason, fact_is_known
from review.changes import Snapshot, compare, next_state, read_state, scene_fingerprint
from review.context import clips_in_order, packet_page
from review.coverage import assign_clips
from review.cut import CUT_MEDIA, CUT_POSTER, cut_snapshot, cut_view, script_cut
from review.errors import PacketWriteFailed, UnsafeFilmId
from review.hosted import HostedLinks, origin_of
from review.labels import expiry_label
from review.manifest import (
    MANIFEST_NAME,
    STATE_NAME,
    HashCache,
    ManifestHeader,
    file_sha256,
    ledger_revision,
    manifest_digest,
    manifest_document,
    write_json,
)
from review.media import MediaPlan, place_media
from review.notes import ReviewNote
from review.page import (
    TEMPLATE_NAME,
    packet_script,
    render_once,
    script_data,
    template_environment,
    templates_dir,
    variant,
)
from review.rebuild import forget, input_key, remember, unchanged
from review.records import ClipRecord, CutRecord
from review.views import HostedView, PacketInfo
from review.writing import BuildPaths, ZipWriter, build_lock, remove_leftovers, swap_in

if TYPE_CHECKING:
    from figures.check import FigureCheck
    from storyboard.models import Film

__all__ = [
    "TEMPLATE_NAME",
    "PacketResult",
    "build_packet",
    "clean_reason",
    "fact_is_known",
    "packet_script",
    "template_environment",
    "templates_dir",
]

log = logging.getLogger(__name__)

_SAFE_FILM_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class PacketResult:
    """What `build_packet` wrote; `to_json()` gives the `docfilm packet --json` object."""

    path: Path
    folder: Path
    zip: Path
    scenes: int
    assets: int
    as_of: date
    playable: int = 0
    failed: int = 0
    media_reused: int = 0
    media_added: int = 0
    packet_id: str = ""
    manifest_sha256: str = ""
    ledger_revision: str = ""
    media_hashed: int = 0
    changes: int = 0
    hosted_index: Path | None = None
    hosted_expires: datetime | None = None

    @property
    def manifest(self) -> Path:
        return self.folder / MANIFEST_NAME

    def to_json(self) -> dict[str, str | int | None]:
        """The CLI contract `{"path", "scenes", "assets", "as_of"}` plus the counts beside it."""
        return {
            "path": str(self.path),
            "zip": str(self.zip),
            "scenes": self.scenes,
            "assets": self.assets,
            "as_of": self.as_of.isoformat(),
            "playable": self.playable,
            "failed": self.failed,
            "media_reused": self.media_reused,
            "media_added": self.media_added,
            "packet_id": self.packet_id,
            "manifest": str(self.manifest),
            "manifest_sha256": self.manifest_sha256,
            "ledger_revision": self.ledger_revision,
            "changes": self.changes,
            "expires": self.hosted_expires.isoformat() if self.hosted_expires else None,
        }

    def media_files(self) -> dict[str, tuple[int, str]]:
        """The packet's files other than index.html, from its manifest: name -> (size, sha256)."""
        document = json.loads(self.manifest.read_text(encoding="utf-8"))
        return {e["path"]: (e["size"], e["sha256"]) for e in document["files"] if e["path"].startswith("media/")}


def _packet_id(film_id: str, generated_at: datetime, digest: str) -> str:
    return f"{film_id}-{generated_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{digest[:8]}"


def _os_reason(exc: OSError) -> str:
    """The OS's own words for a failure, with the file it concerns when it names one."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def build_packet(
    film: Film,
    clips: Iterable[ClipRecord],
    out_root: Path,
    as_of: date,
    *,
    generated_at: datetime | None = None,
    notes: Iterable[ReviewNote] = (),
    hosted: HostedLinks | None = None,
    figures: Iterable[FigureCheck] = (),
    cut: CutRecord | None = None,
) -> PacketResult:
    """Build (or rebuild) the review packet `out_root/<film id>/index.html` and `out_root/<film id>.zip`.

    Nothing half-written is ever visible: on any failure the previous packet stays as it was, and a failure
    to write (disk full, no permission) is PacketWriteFailed naming the folder and the OS's reason. Clips
    whose proxy failed are listed with their reason; clips that belong to no scene are listed as unassigned;
    figures not yet known on `as_of` are shown as such; imported `notes` are shown per scene with each
    scene's review state; `figures` (from `figures.check`, run with the same as-of date) fill the figures
    section, contradictions and unsourced figures first. With `hosted`, the hosted page is written too
    (`PacketResult.hosted_index`), its media links made by `hosted.sign(name)`. With `cut`, the page opens on
    the film: the rendered review cut's player (when `cut.path` is set; otherwise the page says there is none),
    its chapters, subtitles and runtime per theme, and what changed at cut level since the last packet.
    """
    film_id = film.film.id
    if not _SAFE_FILM_ID.match(film_id):
        raise UnsafeFilmId(film_id)
    clips = list(clips)
    figures = list(figures)
    notes = list(notes)
    generated_at = generated_at or datetime.now(UTC)
    template_environment().get_template(TEMPLATE_NAME)  # TemplatesNotFound before anything is written
    paths = BuildPaths.new(out_root, film_id)
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        with build_lock(out_root, film_id):
            remove_leftovers(out_root, film_id)
            key = input_key(film=film, clips=clips, notes=notes, figures=figures, as_of=as_of, cut=cut,
                            hosted=hosted is not None)
            if hosted is None and (kept := unchanged(out_root, film_id, key)) is not None:
                log.info("packet %s (%s): nothing changed since it was built; left as it is", kept.folder,
                         kept.packet_id)
                return kept
            forget(out_root, film_id)  # the packet is about to change: the kept result no longer describes it
            try:
                result = _build(film, clips, notes, as_of, generated_at, hosted, paths, figures, cut)
            except BaseException:
                paths.discard()
                raise
            remember(out_root, film_id, key, result)
    except OSError as exc:
        raise PacketWriteFailed(paths.final, _os_reason(exc)) from exc
    log.info(
        "packet %s (%s): %d scenes, %d clips (%d playable, %d failed), media reused %d, added %d, hashed %d",
        result.folder, result.packet_id, result.scenes, result.assets, result.playable, result.failed,
        result.media_reused, result.media_added, result.media_hashed,
    )
    return result


def _build(film: Film, clips: list[ClipRecord], notes: list[ReviewNote], as_of: date, generated_at: datetime,
           hosted: HostedLinks | None, paths: BuildPaths, figures: list[FigureCheck],
           cut: CutRecord | None = None) -> PacketResult:
    film_id = film.film.id
    paths.build.mkdir()
    coverage = assign_clips(film, clips)
    plan = MediaPlan()
    for clip in clips_in_order(film, coverage):
        plan.add_clip(clip)
    if cut is not None and cut.path is not None:
        plan.files[CUT_MEDIA] = cut.path
        if cut.poster is not None:
            plan.files[CUT_POSTER] = cut.poster
    previous_state = read_state(paths.final)
    cache = HashCache(previous=dict(previous_state.hash_cache) if previous_state else {})
    media = {name: cache.entry(name, source) for name, source in plan.files.items()}
    revision = ledger_revision(clips, notes)
    digest = manifest_digest(film_id, as_of.isoformat(), revision, media)
    packet_id = _packet_id(film_id, generated_at, digest)
    proxies = {asset_id: plan.proxy_of(asset_id) for asset_id in plan.clips}
    snapshot = Snapshot(
        packet_id,
        generated_at.isoformat(),
        {scene.id: scene_fingerprint(film, scene) for scene in film.scenes},
        {asset_id: media[name][1] if name in media else None for asset_id, name in proxies.items()},
        cut_snapshot(cut.map) if cut is not None else None,
    )
    state = next_state(previous_state, snapshot, cache)
    # The media goes into the build folder first, so the zip can take it (another process) while the page renders.
    reused, added = place_media(plan, paths.build, paths.final)
    zipper = ZipWriter(paths.build, film_id, paths.zip_tmp)
    zipper.start_media()
    try:
        info = PacketInfo(
            id=packet_id,
            manifest_sha256=digest,
            ledger_revision=revision,
            data=script_data(film_id, packet_id, digest, as_of.isoformat(), (n.note_id for n in notes),
                             script_cut(cut) if cut is not None else None),
        )
        changes = compare(snapshot, state.baseline)
        film_view = cut_view(film, cut, changes.cut) if cut is not None else None
        view = packet_page(film, coverage, as_of, generated_at, plan, notes, changes, info, figures, film_view,
                           cut.map if cut is not None else None)
        hosted_view = HostedView(expiry_label(hosted.expires), hosted.expires.isoformat()) if hosted else None
        page = render_once(view, hosted_view)
        html = variant(page, str, (), "offline" if hosted is not None else None)
        (paths.build / "index.html").write_text(html, encoding="utf-8")
        write_json(paths.build / STATE_NAME, state.to_json())
        files = dict(media)
        for name in ("index.html", STATE_NAME):
            path = paths.build / name
            files[name] = (path.stat().st_size, file_sha256(path))
        header = ManifestHeader(packet_id=packet_id, film=film_id, as_of=as_of.isoformat(),
                                generated_at=generated_at.isoformat(), ledger_revision=revision,
                                manifest_sha256=digest)
        write_json(paths.build / MANIFEST_NAME, manifest_document(header, files))
        if hosted is not None:
            urls = {name: hosted.url(name, media[name][1]) for name in plan.files}
            origins = {o for o in (origin_of(u) for u in urls.values()) if o}
            paths.hosted_tmp.write_text(variant(page, urls, origins, "hosted"), encoding="utf-8")
        zipper.finish()
    except BaseException:
        zipper.abandon()
        raise
    swap_in(paths.build, paths.final)
    os.replace(paths.zip_tmp, paths.zip)
    if hosted is not None:
        os.replace(paths.hosted_tmp, paths.hosted)
    totals = view.totals
    return PacketResult(
        path=paths.final / "index.html",
        folder=paths.final,
        zip=paths.zip,
        scenes=totals.scenes,
        assets=totals.clips,
        as_of=as_of,
        playable=totals.playable,
        failed=totals.failed,
        media_reused=reused,
        media_added=added,
        packet_id=packet_id,
        manifest_sha256=digest,
        ledger_revision=revision,
        media_hashed=cache.hashed,
        changes=view.changes.count,
        hosted_index=paths.hosted if hosted is not None else None,
        hosted_expires=hosted.expires if hosted is not None else None,
    )

"""The review packet: one self-contained folder (and its zip) that reviewers open in a browser, offline.

Layout of `out_root/<film id>/`: `index.html` (CSS inlined, no script, no network) and `media/` holding the
proxies and posters under names derived from the asset id, linked relatively so the folder works from
file:// on a laptop or a USB stick. `out_root/<film id>.zip` holds the same folder.

Rebuilds are atomic and cheap: the new packet is built in a sibling temporary folder and swapped in only
when complete, and a media file is never rewritten when it did not change. Each file is hard-linked from
the previous packet when its size and mtime match the source (copy2 and hard links both keep them),
otherwise hard-linked from the source, and only copied (with copy2) when hard links are not possible.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import re
import shutil
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from review.coverage import SceneFootage, assign_clips
from review.errors import PacketWriteFailed, TemplatesNotFound, UnsafeFilmId
from review.labels import (
    CLIP_KINDS,
    FACT_STATUSES,
    MILESTONE_STATES,
    SCENE_STATES,
    SHOT_KINDS,
    Label,
    date_label,
    days_left_label,
    frames_to_minutes_seconds,
    frames_to_timecode,
    lookup,
    parse_rate,
    rate_label,
)
from review.records import ClipRecord
from review.status import milestone_state

if TYPE_CHECKING:
    from storyboard.models import Fact, Film, Scene, Shot

log = logging.getLogger(__name__)

TEMPLATE_NAME = "packet.html.j2"
_SAFE_FILM_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
# A path-looking token in an ffmpeg/PyAV message: keep only its last component, so no local path leaks.
_ABSOLUTE_PATH = re.compile(r"(?:[A-Za-z]:)?[/\\](?:[^\s/\\:'\"]+[/\\])+([^\s/\\:'\"]*)")
_REASON_MAX = 300
_VIDEO_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime"}
_AUDIO_TYPES = {
    ".m4a": "audio/mp4",
    ".mp4": "audio/mp4",
    ".aac": "audio/aac",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
}
_COMPRESSIBLE = {".html", ".css", ".js", ".json", ".txt"}


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

    def to_json(self) -> dict[str, Any]:
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
        }


def templates_dir() -> Path:
    """The packet templates: the repo's templates/ folder, or review/templates inside a wheel install."""
    package_dir = Path(__file__).resolve().parent
    candidates = [package_dir.parent / "templates", package_dir / "templates"]
    for candidate in candidates:
        if (candidate / TEMPLATE_NAME).is_file():
            return candidate
    raise TemplatesNotFound(candidates)


def template_environment() -> jinja2.Environment:
    """Jinja2 environment of the packet: autoescape on for every template, undefined names are errors."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def clean_reason(reason: str | None) -> str:
    """A failure reason fit for the packet: local paths cut to their file name, length capped."""
    if not reason:
        return ""
    text = _ABSOLUTE_PATH.sub(lambda m: m.group(1) or "…", reason.strip())
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"


# ----------------------------------------------------------------------------------------------- media


@dataclass
class _MediaPlan:
    """Media files to place in the packet: packet-relative name -> source file."""

    files: dict[str, Path] = field(default_factory=dict)
    used_stems: set[str] = field(default_factory=set)

    def stem_for(self, asset_id: str) -> str:
        stem = _UNSAFE_NAME_CHARS.sub("_", asset_id).strip("_")[:80] or "asset"
        candidate, n = stem, 1
        while candidate in self.used_stems:
            n += 1
            candidate = f"{stem}-{n}"
        self.used_stems.add(candidate)
        return candidate

    def add(self, stem: str, suffix: str, source: Path) -> str:
        name = f"media/{stem}{suffix}"
        self.files[name] = source
        return name


# FAT and exFAT (USB sticks) keep mtimes to 2 s, so a copy2'd file there never matches to the nanosecond.
_COPY_MTIME_TOLERANCE_NS = 2_000_000_000


def _same_file_content(previous: Path, source: Path) -> bool:
    """Whether the previous packet's file is the source unchanged: same file, or same size and mtime."""
    try:
        if os.path.samefile(previous, source):
            return True
        prev_st, src_st = previous.stat(), source.stat()
    except OSError:
        return False
    if prev_st.st_size != src_st.st_size:
        return False
    if prev_st.st_dev == src_st.st_dev:
        return prev_st.st_mtime_ns == src_st.st_mtime_ns
    return abs(prev_st.st_mtime_ns - src_st.st_mtime_ns) < _COPY_MTIME_TOLERANCE_NS


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:
        # Another file system, or one without hard links (FAT on a USB stick): copy2 keeps the mtime.
        shutil.copy2(source, dest)


def _place_media(plan: _MediaPlan, build: Path, previous: Path) -> tuple[int, int]:
    """Put every planned file into `build`; returns (reused from the previous packet, added)."""
    reused = added = 0
    (build / "media").mkdir()
    for name, source in sorted(plan.files.items()):
        dest = build / name
        before = previous / name
        if before.is_file() and _same_file_content(before, source):
            _link_or_copy(before, dest)
            reused += 1
        else:
            _link_or_copy(source, dest)
            added += 1
    return reused, added


# ------------------------------------------------------------------------------------------ view model


def _bi(text: Any) -> Label | None:
    return None if text is None else Label(text.vi, text.en)


def _clip_view(clip: ClipRecord, plan: _MediaPlan, film_scene_ids: set[str]) -> dict[str, Any]:
    rate = parse_rate(clip.fps)
    duration_tc = (
        frames_to_timecode(clip.duration_frames, rate)
        if rate is not None and clip.duration_frames is not None and clip.kind != "still"
        else None
    )
    width, height = clip.width, clip.height
    if width and height and clip.rotation % 180 == 90:
        # Proxies have the rotation applied, so the picture is displayed upright.
        width, height = height, width
    view: dict[str, Any] = {
        "asset_id": clip.asset_id,
        "name": clip.name,
        "kind": clip.kind,
        "kind_label": lookup(CLIP_KINDS, clip.kind),
        "start_timecode": clip.start_timecode,
        "duration_timecode": duration_tc,
        "fps": rate_label(rate) if rate is not None else None,
        "width": width,
        "height": height,
        "rotation": clip.rotation,
        "sha256_short": clip.sha256[:12],
        "scene_given": clip.scene_id if clip.scene_id and clip.scene_id not in film_scene_ids else None,
        "media_src": None,
        "media_type": None,
        "poster_src": None,
        "reason": "",
    }
    if clip.proxy_state == "failed":
        view["state"] = "failed"
        view["reason"] = clean_reason(clip.proxy_reason) or "—"
        return view
    if not clip.has_done_proxy:
        view["state"] = "pending"
        return view
    assert clip.proxy is not None  # has_done_proxy guarantees it
    if not clip.proxy.is_file():
        log.warning(
            "clip %s: proxy marked done but %s is missing; listed as missing", clip.asset_id, clip.proxy
        )
        view["state"] = "missing"
        return view
    stem = plan.stem_for(clip.asset_id)
    suffix = clip.proxy.suffix.lower()
    if clip.kind == "audio":
        view["media_type"] = _AUDIO_TYPES.get(suffix, "audio/mp4")
    elif clip.kind == "video":
        view["media_type"] = _VIDEO_TYPES.get(suffix, "video/mp4")
    view["media_src"] = plan.add(stem, suffix, clip.proxy)
    if clip.poster is not None and clip.poster.is_file():
        view["poster_src"] = plan.add(stem, "-poster" + clip.poster.suffix.lower(), clip.poster)
    view["state"] = "playable"
    return view


def fact_is_known(fact: Fact, as_of: date) -> bool:
    """Whether a figure could be shown as known in a packet dated `as_of`.

    Never when its year is after the as-of year, nor when its source dates it after `as_of`. A figure for
    the as-of year itself is known only when it is a target (the year's plan) or its source dates it on or
    before `as_of`: an estimate or actual for the running year without a date (e.g. 2019 GRDP growth in a
    packet of May 2019) was published after the year, so showing it would present a later figure as known.
    """
    if fact.year > as_of.year:
        return False
    if fact.as_of is not None:
        return fact.as_of <= as_of
    return fact.year < as_of.year or fact.status == "target"


def _fact_view(fact: Fact, as_of: date) -> dict[str, Any]:
    known = fact_is_known(fact, as_of)
    url = fact.source.url
    # Only web links are followed; anything else (javascript:, file:) is shown as plain text.
    safe_url = url if url and re.match(r"^https?://", url, re.IGNORECASE) else None
    as_of_label = date_label(as_of)
    return {
        "id": fact.id,
        "label": _bi(fact.label),
        "known": known,
        "value": fact.value if known else None,
        "unit": fact.unit if known else None,
        "year": fact.year,
        "status": fact.status,
        "status_label": lookup(FACT_STATUSES, fact.status),
        "unknown_label": Label(
            f"chưa có số liệu tại ngày {as_of_label.vi}", f"not yet known as of {as_of_label.en}"
        ),
        "source_title": fact.source.title,
        "source_url": safe_url,
        "source_text": None if safe_url else url,
    }


def _scene_facts(film: Film, scene: Scene, as_of: date) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for shot in scene.shots:
        for fact_id in shot.facts:
            if fact_id in seen:
                continue
            try:
                seen[fact_id] = _fact_view(film.fact(fact_id), as_of)
            except KeyError:
                log.warning("scene %s: shot %s names unknown fact %r; left out", scene.id, shot.id, fact_id)
    return list(seen.values())


def _shot_view(shot: Shot, clips: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": shot.id,
        "kind": shot.kind,
        "kind_label": lookup(SHOT_KINDS, shot.kind),
        "description": _bi(shot.description),
        "location": shot.location,
        "facts": list(shot.facts),
        "covered": any(c["state"] == "playable" for c in clips),
        "clips": clips,
    }


def _scene_view(
    film: Film, scene: Scene, footage: SceneFootage, as_of: date, plan: _MediaPlan, scene_ids: set[str]
) -> dict[str, Any]:
    shots = [
        _shot_view(shot, [_clip_view(c, plan, scene_ids) for c in footage.by_shot[shot.id]])
        for shot in scene.shots
    ]
    other = [_clip_view(c, plan, scene_ids) for c in footage.other]
    return {
        "id": scene.id,
        "order": scene.order,
        "title": _bi(scene.title),
        "narration": _bi(scene.narration),
        "planned": frames_to_minutes_seconds(scene.planned_frames, film.film.fps),
        "planned_frames": scene.planned_frames,
        "state": str(scene.state),
        "state_label": lookup(SCENE_STATES, str(scene.state)),
        "ready": footage.is_ready(),
        "shots": shots,
        "shots_covered": sum(1 for s in shots if s["covered"]),
        "other_clips": other,
        "facts": _scene_facts(film, scene, as_of),
        "clip_count": len(footage.clips),
    }


def packet_context(
    film: Film, clips: Iterable[ClipRecord], as_of: date, generated_at: datetime, plan: _MediaPlan
) -> dict[str, Any]:
    """Everything the template shows, as plain strings, numbers and labels (no paths, no objects to call)."""
    coverage = assign_clips(film, clips)
    scene_ids = {scene.id for scene in film.scenes}
    themes: list[dict[str, Any]] = []
    for theme in sorted(film.themes, key=lambda t: (t.order, t.id)):
        scenes = [
            _scene_view(film, scene, coverage.of(scene), as_of, plan, scene_ids)
            for scene in sorted(film.scenes, key=lambda s: (s.order, s.id))
            if scene.theme == theme.id
        ]
        themes.append(
            {
                "id": theme.id,
                "order": theme.order,
                "title": _bi(theme.title),
                "scenes": scenes,
                "ready": sum(1 for s in scenes if s["ready"]),
            }
        )
    milestones = []
    for milestone in film.milestones:
        days_left, state = milestone_state(milestone.due, as_of)
        milestones.append(
            {
                "id": milestone.id,
                "title": _bi(milestone.title),
                "due": date_label(milestone.due) if milestone.due else None,
                "state": state,
                "state_label": MILESTONE_STATES[state],
                "days": days_left_label(days_left),
                "audience": _bi(milestone.audience),
                "note": _bi(milestone.note),
            }
        )
    unassigned = [_clip_view(c, plan, scene_ids) for c in coverage.unassigned]
    all_scenes = [s for t in themes for s in t["scenes"]]
    all_clips = [c for s in all_scenes for sh in s["shots"] for c in sh["clips"]]
    all_clips += [c for s in all_scenes for c in s["other_clips"]] + unassigned
    info = film.film
    commission = info.commission
    fps = info.fps
    return {
        "film": {
            "id": info.id,
            "title": _bi(info.title),
            "subtitle": _bi(info.subtitle),
            "producer": _bi(info.producer),
            "term": info.term,
            "fps": fps,
            "target_runtime": frames_to_minutes_seconds(info.target_runtime_frames, fps),
            "planned_runtime": frames_to_minutes_seconds(sum(s.planned_frames for s in film.scenes), fps),
        },
        "commission": {
            "reference": commission.reference,
            "dated": date_label(commission.dated),
            "issuer": _bi(commission.issuer),
            "summary": _bi(commission.summary),
        },
        "as_of": date_label(as_of),
        "as_of_iso": as_of.isoformat(),
        "generated_at": generated_at.isoformat(sep=" ", timespec="minutes"),
        "milestones": milestones,
        "themes": themes,
        "unassigned": unassigned,
        "totals": {
            "scenes": len(all_scenes),
            "ready": sum(1 for s in all_scenes if s["ready"]),
            "shots": sum(len(s["shots"]) for s in all_scenes),
            "shots_covered": sum(s["shots_covered"] for s in all_scenes),
            "clips": len(all_clips),
            "playable": sum(1 for c in all_clips if c["state"] == "playable"),
            "failed": sum(1 for c in all_clips if c["state"] in ("failed", "missing")),
            "unassigned": len(unassigned),
        },
    }


# --------------------------------------------------------------------------------------- writing files


@contextlib.contextmanager
def _build_lock(out_root: Path, film_id: str) -> Iterator[None]:
    """Serialise builds of one film's packet (two flows may ask at once)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: builds still never expose a half-written folder
        yield
        return
    with open(out_root / f".{film_id}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories with renameat2(RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _swap_in(build: Path, final: Path) -> None:
    """Make `build` the packet at `final`; the old packet is removed only once the new one is in place."""
    if not final.exists():
        os.rename(build, final)
        return
    if _exchange(build, final):
        shutil.rmtree(build)  # now holds the previous packet
        return
    old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
    os.rename(final, old)
    os.rename(build, final)
    shutil.rmtree(old)


def _write_zip(folder: Path, arc_root: str, target: Path) -> None:
    with zipfile.ZipFile(target, "w", strict_timestamps=False) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = path.relative_to(folder).as_posix()
            info = zipfile.ZipInfo.from_file(path, f"{arc_root}/{rel}", strict_timestamps=False)
            # Media is already compressed; deflating it only costs time.
            info.compress_type = (
                zipfile.ZIP_DEFLATED if path.suffix.lower() in _COMPRESSIBLE else zipfile.ZIP_STORED
            )
            with open(path, "rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)


def _remove_leftovers(out_root: Path, film_id: str) -> None:
    # Called under the build lock, so these can only be remains of a build that crashed.
    for pattern in (f".{film_id}.build-*", f".{film_id}.old-*", f".{film_id}.zip.tmp-*"):
        for leftover in out_root.glob(pattern):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def build_packet(
    film: Film,
    clips: Iterable[ClipRecord],
    out_root: Path,
    as_of: date,
    *,
    generated_at: datetime | None = None,
) -> PacketResult:
    """Build (or rebuild) the review packet `out_root/<film id>/index.html` and `out_root/<film id>.zip`.

    Nothing half-written is ever visible: on any failure the previous packet stays as it was and
    PacketWriteFailed is raised. Clips whose proxy failed are listed with their reason; clips that belong to
    no scene are listed as unassigned; figures not yet known on `as_of` are shown as such.
    """
    film_id = film.film.id
    if not _SAFE_FILM_ID.match(film_id):
        raise UnsafeFilmId(film_id)
    clips = list(clips)
    generated_at = generated_at or datetime.now(UTC)
    environment = template_environment()
    out_root.mkdir(parents=True, exist_ok=True)
    final = out_root / film_id
    zip_path = out_root / f"{film_id}.zip"
    with _build_lock(out_root, film_id):
        _remove_leftovers(out_root, film_id)
        build = out_root / f".{film_id}.build-{uuid.uuid4().hex[:8]}"
        zip_tmp = out_root / f".{film_id}.zip.tmp-{uuid.uuid4().hex[:8]}"
        try:
            build.mkdir()
            plan = _MediaPlan()
            context = packet_context(film, clips, as_of, generated_at, plan)
            html = environment.get_template(TEMPLATE_NAME).render(**context)
            reused, added = _place_media(plan, build, final)
            (build / "index.html").write_text(html, encoding="utf-8")
            _write_zip(build, film_id, zip_tmp)
            _swap_in(build, final)
            os.replace(zip_tmp, zip_path)
        except OSError as exc:
            shutil.rmtree(build, ignore_errors=True)
            zip_tmp.unlink(missing_ok=True)
            raise PacketWriteFailed(final, f"{type(exc).__name__}: {exc.strerror or exc}") from exc
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            zip_tmp.unlink(missing_ok=True)
            raise
    totals = context["totals"]
    log.info(
        "packet %s: %d scenes, %d clips (%d playable, %d failed), media reused %d, added %d",
        final,
        totals["scenes"],
        totals["clips"],
        totals["playable"],
        totals["failed"],
        reused,
        added,
    )
    return PacketResult(
        path=final / "index.html",
        folder=final,
        zip=zip_path,
        scenes=totals["scenes"],
        assets=totals["clips"],
        as_of=as_of,
        playable=totals["playable"],
        failed=totals["failed"],
        media_reused=reused,
        media_added=added,
    )

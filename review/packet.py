"""The review packet: one folder (and its zip) that reviewers open in a browser, offline, plus a hosted copy.

Layout of `out_root/<film id>/`:
- `index.html`: CSS and one script inlined. The Content-Security-Policy allows that script only (by its
  SHA-256), no network (`connect-src` stays 'none') and media from the packet itself; every piece of user
  text is escaped by the template and set with textContent by the script.
- `media/`: proxies, posters and contact sheets under names derived from the asset id, linked relatively so
  the folder works from file:// on a laptop or a USB stick.
- `manifest.json` (every file with size and SHA-256, the ledger revision) and `packet-state.json` (what this
  packet showed, for marking changes in the next one): see `review.manifest`.
`out_root/<film id>.zip` holds the same folder. With `hosted` links, `out_root/<film id>.hosted.html` is the
same page with every media link a presigned URL and the expiry printed, to be uploaded beside the media.

Rebuilds are atomic and cheap: the new packet is built in a sibling temporary folder and swapped in only
when complete, and a media file is never rewritten when it did not change. Each file is hard-linked from
the previous packet when its size and mtime match the source (copy2 and hard links both keep them),
otherwise hard-linked from the source, and only copied (with copy2) when hard links are not possible.
Media hashes are reused from the previous build under the same rule.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import errno
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html import unescape as html_unescape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup, escape

from core.timecode import duration_timecode, parse_rate, rate_text, review_rate
from renders.flags import QcFlag
from review.coverage import SceneFootage, assign_clips
from review.errors import PacketWriteFailed, TemplatesNotFound, UnsafeFilmId
from review.hosted import VIETNAM_TIME, HostedLinks, expiry_label, origin_of
from review.labels import (
    CLIP_KINDS,
    FACT_STATUSES,
    MILESTONE_STATES,
    QC_KINDS,
    REVIEW_STATES,
    SCENE_STATES,
    SHOT_KINDS,
    VERDICTS,
    Label,
    date_label,
    days_left_label,
    frames_to_minutes_seconds,
    lookup,
    qc_flag_label,
    rate_label,
)
from review.manifest import (
    MANIFEST_NAME,
    STATE_NAME,
    HashCache,
    Snapshot,
    compare,
    file_sha256,
    ledger_revision,
    manifest_digest,
    manifest_document,
    next_state,
    read_state,
    scene_fingerprint,
    write_json,
)
from review.notes import ReviewNote, notes_by_scene, scene_review_states
from review.records import ClipRecord
from review.status import footage_frames, milestone_state

if TYPE_CHECKING:
    from storyboard.models import Fact, Film, Scene, Shot

log = logging.getLogger(__name__)

TEMPLATE_NAME = "packet.html.j2"
SCRIPT_NAME = "packet.js"
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
_QC_FLAGS_SHOWN = 8


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


def templates_dir() -> Path:
    """The packet templates: the repo's templates/ folder, or review/templates inside a wheel install."""
    package_dir = Path(__file__).resolve().parent
    candidates = [package_dir.parent / "templates", package_dir / "templates"]
    for candidate in candidates:
        if (candidate / TEMPLATE_NAME).is_file():
            return candidate
    raise TemplatesNotFound(candidates)


@functools.lru_cache(maxsize=1)
def template_environment() -> jinja2.Environment:
    """Jinja2 environment of the packet: autoescape on for every template, undefined names are errors.

    One per process, so templates are compiled once (Jinja reloads a template whose file changed).
    """
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@functools.lru_cache(maxsize=4)
def _script(folder: Path, mtime_ns: int) -> tuple[str, str]:
    text = (folder / SCRIPT_NAME).read_text(encoding="utf-8")
    if "</" in text:
        raise ValueError(f"{SCRIPT_NAME} must not contain '</' (it is inlined in a script element)")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return text, f"sha256-{digest}"


def packet_script() -> tuple[str, str]:
    """The page's script and its CSP source ("sha256-<base64>"): the only script the page may run."""
    folder = templates_dir()
    return _script(folder, (folder / SCRIPT_NAME).stat().st_mtime_ns)


def clean_reason(reason: str | None) -> str:
    """A failure reason fit for the packet: local paths cut to their file name, length capped."""
    if not reason:
        return ""
    text = _ABSOLUTE_PATH.sub(lambda m: m.group(1) or "…", reason.strip())
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"


def json_for_script(value: Any) -> Markup:
    """JSON safe inside a <script type="application/json"> element: '<', '>' and '&' escaped as \\u00XX."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


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


def _flag_text(value: Any) -> Label | None:
    """A flag's message as a Label: renders writes "Vietnamese / English"; anything else shows as it is."""
    if value is None or value == "":
        return None
    text = clean_reason(str(value))
    vi, sep, en = text.partition(" / ")
    return Label(vi, en) if sep and vi and en else Label(text, text)


def qc_flags(qc: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The QC problems of a clip, for the packet: what kind, its message, and the timecode range.

    Reads `flags` as renders.flags.QcFlag records (worded by review.labels), or as older renders stored them
    ({"rule", "message", "start", "end"}); anything else is shown as plain text. Also reads
    `decode_error_count`. Measurements without a verdict are not flags and are not shown.
    """
    if not qc:
        return []
    out: list[dict[str, Any]] = []
    raw = qc.get("flags")
    if isinstance(raw, list):
        for flag in raw:
            if isinstance(flag, Mapping):
                kind = str(flag.get("rule") or "qc")
                start, end = flag.get("start"), flag.get("end")
                try:
                    message: Label | None = qc_flag_label(QcFlag.from_json(flag))
                except ValueError:  # stored before flags were records: its own message
                    message = _flag_text(flag.get("message"))
                tc = f"{start}–{end}" if start and end else (str(start) if start else None)
                if tc and message and str(start) in message.vi:
                    tc = None  # the message already says where
                label = lookup(QC_KINDS, kind)
                # renders' messages begin with the kind already ("Hình đen 3.0 s …"): do not say it twice.
                named = message is not None and message.vi.casefold().startswith(label.vi.casefold())
                out.append({"kind": kind, "label": None if named else label, "detail": message, "tc": tc})
            else:
                out.append({"kind": "qc", "label": Label("Kiểm tra kỹ thuật", "QC"), "detail": _flag_text(flag),
                            "tc": None})
    errors = qc.get("decode_error_count")
    if isinstance(errors, int) and errors > 0 and not any(f["kind"] == "decode" for f in out):
        first = qc.get("decode_errors")
        line = f": {clean_reason(str(first[0]))}" if isinstance(first, list) and first else ""
        label = Label(f"{errors} lỗi giải mã", f"{errors} decode errors")
        out.append({"kind": "decode", "label": None, "tc": None,
                    "detail": Label(f"{label.vi}{line}", f"{label.en}{line}")})
    return out[:_QC_FLAGS_SHOWN]


def _clip_view(
    clip: ClipRecord, plan: _MediaPlan, film_scene_ids: set[str], scene_id: str | None
) -> dict[str, Any]:
    rate = parse_rate(clip.fps)
    duration_tc = (
        duration_timecode(clip.duration_frames, rate)
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
        "duration_frames": clip.duration_frames,
        "fps": rate_label(rate) if rate is not None else None,
        # The rate the proxy plays and notes count frames at (above 60 fps, the timecode's base rate).
        "rate": rate_text(review_rate(rate)) if rate is not None else None,
        "width": width,
        "height": height,
        "rotation": clip.rotation,
        "sha256_short": clip.sha256[:12],
        "scene_given": clip.scene_id if clip.scene_id and clip.scene_id not in film_scene_ids else None,
        "scene_id": scene_id,
        "media_src": None,
        "media_type": None,
        "poster_src": None,
        "sheet_src": None,
        "qc_flags": qc_flags(clip.qc),
        "reason": "",
        "change": None,
        "proxy_source": None,
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
    view["proxy_source"] = view["media_src"]
    if clip.poster is not None and clip.poster.is_file():
        view["poster_src"] = plan.add(stem, "-poster" + clip.poster.suffix.lower(), clip.poster)
    if clip.contact_sheet is not None and clip.contact_sheet.is_file():
        view["sheet_src"] = plan.add(stem, "-sheet" + clip.contact_sheet.suffix.lower(), clip.contact_sheet)
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


def _vn_time(moment: datetime) -> str:
    local = moment.astimezone(VIETNAM_TIME) if moment.tzinfo else moment
    return f"{local.day:02d}/{local.month:02d}/{local.year} {local.hour:02d}:{local.minute:02d}"


def _note_view(note: ReviewNote, clip_names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "id": note.note_id,
        "reviewer": note.reviewer,
        "verdict": note.verdict,
        "verdict_label": lookup(VERDICTS, note.verdict),
        "text": note.text,
        "timecode": note.timecode,
        "clip": clip_names.get(note.asset_id, note.asset_id) if note.asset_id else None,
        "asset_id": note.asset_id,
        "written": _vn_time(note.written_at),
    }


def _scene_view(
    film: Film,
    scene: Scene,
    footage: SceneFootage,
    as_of: date,
    plan: _MediaPlan,
    scene_ids: set[str],
    notes: list[ReviewNote],
    review_state: str,
    clip_names: Mapping[str, str],
) -> dict[str, Any]:
    shots = [
        _shot_view(shot, [_clip_view(c, plan, scene_ids, scene.id) for c in footage.by_shot[shot.id]])
        for shot in scene.shots
    ]
    other = [_clip_view(c, plan, scene_ids, scene.id) for c in footage.other]
    fps = film.film.fps
    clips = footage.clips
    return {
        "id": scene.id,
        "theme": scene.theme,
        "order": scene.order,
        "title": _bi(scene.title),
        "narration": _bi(scene.narration),
        "planned": frames_to_minutes_seconds(scene.planned_frames, fps),
        "planned_frames": scene.planned_frames,
        "footage_frames": footage_frames(clips, fps),
        "proxy_frames": footage_frames((c for c in clips if c.has_done_proxy), fps),
        "state": str(scene.state),
        "state_label": lookup(SCENE_STATES, str(scene.state)),
        "ready": footage.is_ready(),
        "shots": shots,
        "shots_covered": sum(1 for s in shots if s["covered"]),
        "other_clips": other,
        "facts": _scene_facts(film, scene, as_of),
        "clip_count": len(clips),
        "review": review_state,
        "review_label": REVIEW_STATES[review_state],
        "notes": [_note_view(n, clip_names) for n in notes],
        "change": None,
        "clip_changes": 0,
    }


def _minutes(frames: int, fps: int) -> str:
    return frames_to_minutes_seconds(frames, fps)


def _theme_view(theme: Any, scenes: list[dict[str, Any]], fps: int) -> dict[str, Any]:
    states = Counter(s["state"] for s in scenes)
    reviews = Counter(s["review"] for s in scenes)
    planned = sum(s["planned_frames"] for s in scenes)
    footage = sum(s["footage_frames"] for s in scenes)
    proxies = sum(s["proxy_frames"] for s in scenes)
    return {
        "id": theme.id,
        "order": theme.order,
        "title": _bi(theme.title),
        "scenes": scenes,
        "ready": sum(1 for s in scenes if s["ready"]),
        "planned": _minutes(planned, fps),
        "footage": _minutes(footage, fps),
        "proxies": _minutes(proxies, fps),
        "footage_pct": round(100 * footage / planned) if planned else 0,
        "proxies_pct": round(100 * proxies / planned) if planned else 0,
        "by_state": [
            {"state": key, "label": label, "count": states[key]} for key, label in SCENE_STATES.items() if states[key]
        ],
        "by_review": [
            {"state": key, "label": label, "count": reviews[key]} for key, label in REVIEW_STATES.items()
            if reviews[key]
        ],
    }


def _primary_milestone(milestones: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The milestone the cover counts down to: the next one due, else the last one passed."""
    dated = [m for m in milestones if m["due_iso"]]
    upcoming = sorted((m for m in dated if m["state"] in ("upcoming", "due-today")), key=lambda m: m["due_iso"])
    if upcoming:
        return upcoming[0]
    passed = sorted(dated, key=lambda m: m["due_iso"])
    return passed[-1] if passed else (milestones[0] if milestones else None)


def packet_context(
    film: Film,
    clips: Iterable[ClipRecord],
    as_of: date,
    generated_at: datetime,
    plan: _MediaPlan,
    notes: Iterable[ReviewNote] = (),
) -> dict[str, Any]:
    """Everything the template shows, as plain strings, numbers and labels (no paths, no objects to call)."""
    clips = list(clips)
    notes = [n for n in notes if n.film_id == film.film.id]
    coverage = assign_clips(film, clips)
    scene_ids = {scene.id for scene in film.scenes}
    clip_names = {c.asset_id: c.name for c in clips}
    grouped = notes_by_scene(notes)
    reviews = scene_review_states(notes)
    fps = film.film.fps
    themes: list[dict[str, Any]] = []
    for theme in sorted(film.themes, key=lambda t: (t.order, t.id)):
        scenes = [
            _scene_view(
                film, scene, coverage.of(scene), as_of, plan, scene_ids, grouped.get(scene.id, []),
                reviews.get(scene.id, "no-review"), clip_names,
            )
            for scene in sorted(film.scenes, key=lambda s: (s.order, s.id))
            if scene.theme == theme.id
        ]
        themes.append(_theme_view(theme, scenes, fps))
    milestones = []
    for milestone in film.milestones:
        days_left, state = milestone_state(milestone.due, as_of)
        milestones.append(
            {
                "id": milestone.id,
                "title": _bi(milestone.title),
                "due": date_label(milestone.due) if milestone.due else None,
                "due_iso": milestone.due.isoformat() if milestone.due else None,
                "state": state,
                "state_label": MILESTONE_STATES[state],
                "days": days_left_label(days_left),
                "audience": _bi(milestone.audience),
                "note": _bi(milestone.note),
            }
        )
    unassigned = [_clip_view(c, plan, scene_ids, None) for c in coverage.unassigned]
    all_scenes = [s for t in themes for s in t["scenes"]]
    all_clips = [c for s in all_scenes for sh in s["shots"] for c in sh["clips"]]
    all_clips += [c for s in all_scenes for c in s["other_clips"]] + unassigned
    info = film.film
    commission = info.commission
    reviews_count = Counter(s["review"] for s in all_scenes)
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
        "primary_milestone": _primary_milestone(milestones),
        "themes": themes,
        "unassigned": unassigned,
        "clips_by_id": {c["asset_id"]: c for c in all_clips},
        "totals": {
            "scenes": len(all_scenes),
            "ready": sum(1 for s in all_scenes if s["ready"]),
            "shots": sum(len(s["shots"]) for s in all_scenes),
            "shots_covered": sum(s["shots_covered"] for s in all_scenes),
            "clips": len(all_clips),
            "playable": sum(1 for c in all_clips if c["state"] == "playable"),
            "failed": sum(1 for c in all_clips if c["state"] in ("failed", "missing")),
            "unassigned": len(unassigned),
            "notes": len(notes),
            "approved": reviews_count["approved"],
            "changes_requested": reviews_count["changes-requested"],
            "planned": _minutes(sum(s["planned_frames"] for s in all_scenes), fps),
            "footage": _minutes(sum(s["footage_frames"] for s in all_scenes), fps),
            "proxies": _minutes(sum(s["proxy_frames"] for s in all_scenes), fps),
        },
    }


def _snapshot(film: Film, context: dict[str, Any], media: Mapping[str, tuple[int, str]], packet_id: str,
              generated_at: datetime) -> Snapshot:
    scenes = {scene.id: scene_fingerprint(film, scene) for scene in film.scenes}
    clips: dict[str, str | None] = {}
    for asset_id, view in context["clips_by_id"].items():
        source = view["proxy_source"]
        clips[asset_id] = media[source][1] if source in media else None
    return Snapshot(packet_id, generated_at.isoformat(), scenes, clips)


def _mark_changes(context: dict[str, Any], changes: Any) -> dict[str, Any]:
    """Put change marks on scene and clip views; the cover's summary of what changed."""
    clip_views = context["clips_by_id"]
    for asset_id in changes.new_clips:
        clip_views[asset_id]["change"] = "new"
    for asset_id in changes.updated_proxies:
        clip_views[asset_id]["change"] = "proxy"
    scenes: list[dict[str, Any]] = [s for t in context["themes"] for s in t["scenes"]]
    for scene in scenes:
        if scene["id"] in changes.new_scenes:
            scene["change"] = "new"
        elif scene["id"] in changes.changed_scenes:
            scene["change"] = "changed"
        scene_clips = [c for sh in scene["shots"] for c in sh["clips"]] + scene["other_clips"]
        scene["clip_changes"] = sum(1 for c in scene_clips if c["change"])

    def clip_entry(asset_id: str) -> dict[str, Any]:
        view = clip_views[asset_id]
        return {"asset_id": asset_id, "name": view["name"], "scene_id": view["scene_id"]}

    def by_place(entry: dict[str, Any]) -> tuple[str, str]:
        return (entry["scene_id"] or "~", entry["name"])

    since = changes.since
    return {
        "first": since is None,
        "since_id": since.packet_id if since else None,
        "since": _vn_time(datetime.fromisoformat(since.generated_at)) if since and since.generated_at else None,
        "count": changes.count,
        "new_scenes": [s for s in scenes if s["change"] == "new"],
        "changed_scenes": [s for s in scenes if s["change"] == "changed"],
        "new_clips": sorted((clip_entry(a) for a in changes.new_clips), key=by_place),
        "updated_proxies": sorted((clip_entry(a) for a in changes.updated_proxies), key=by_place),
    }


def _csp(script_hash: str, origins: Iterable[str]) -> str:
    extra = "".join(f" {origin}" for origin in sorted(set(origins)))
    return (
        f"default-src 'none'; script-src '{script_hash}'; style-src 'unsafe-inline'; "
        f"img-src 'self' data:{extra}; media-src 'self'{extra}; base-uri 'none'; form-action 'none'"
    )


# Placeholders the template is rendered with once; user text cannot contain them, as its '<' is escaped.
_URL_MARK = re.compile(r"<!--url:([^>]*)-->")
_CSP_MARK = "<!--csp-->"


def _url_placeholder(name: str) -> Markup:
    return Markup(f"<!--url:{escape(name)}-->")


def _render_once(template: jinja2.Template, context: dict[str, Any], hosted: dict[str, Any] | None) -> str:
    """The page with placeholders for its links and CSP, both variants' blocks marked (see the template)."""
    return template.render(**context, url=_url_placeholder, csp=Markup(_CSP_MARK), script=Markup(packet_script()[0]),
                           hosted=hosted)


def _variant(page: str, link: Callable[[str], str], origins: Iterable[str], keep: str | None) -> str:
    """One variant of a page from `_render_once`: its blocks kept, the other's dropped, links and CSP filled."""
    if keep is not None:
        drop = "offline" if keep == "hosted" else "hosted"
        page = re.sub(rf"<!--docfilm:{drop}-->.*?<!--/docfilm:{drop}-->\n?", "", page, flags=re.S)
        page = page.replace(f"<!--docfilm:{keep}-->\n", "").replace(f"<!--/docfilm:{keep}-->\n", "")
    page = page.replace(_CSP_MARK, str(escape(_csp(packet_script()[1], origins))), 1)
    return _URL_MARK.sub(lambda m: str(escape(link(html_unescape(m.group(1))))), page)


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
    patterns = (f".{film_id}.build-*", f".{film_id}.old-*", f".{film_id}.zip.tmp-*", f".{film_id}.hosted.tmp-*")
    for pattern in patterns:
        for leftover in out_root.glob(pattern):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def _packet_id(film_id: str, generated_at: datetime, digest: str) -> str:
    return f"{film_id}-{generated_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{digest[:8]}"


def build_packet(
    film: Film,
    clips: Iterable[ClipRecord],
    out_root: Path,
    as_of: date,
    *,
    generated_at: datetime | None = None,
    notes: Iterable[ReviewNote] = (),
    hosted: HostedLinks | None = None,
) -> PacketResult:
    """Build (or rebuild) the review packet `out_root/<film id>/index.html` and `out_root/<film id>.zip`.

    Nothing half-written is ever visible: on any failure the previous packet stays as it was and
    PacketWriteFailed is raised. Clips whose proxy failed are listed with their reason; clips that belong to
    no scene are listed as unassigned; figures not yet known on `as_of` are shown as such; imported `notes`
    are shown per scene with each scene's review state. With `hosted`, the hosted page is written too
    (`PacketResult.hosted_index`), its media links made by `hosted.sign(name)`.
    """
    film_id = film.film.id
    if not _SAFE_FILM_ID.match(film_id):
        raise UnsafeFilmId(film_id)
    clips = list(clips)
    notes = list(notes)
    generated_at = generated_at or datetime.now(UTC)
    environment = template_environment()
    template = environment.get_template(TEMPLATE_NAME)
    out_root.mkdir(parents=True, exist_ok=True)
    final = out_root / film_id
    zip_path = out_root / f"{film_id}.zip"
    hosted_path = out_root / f"{film_id}.hosted.html"
    with _build_lock(out_root, film_id):
        _remove_leftovers(out_root, film_id)
        build = out_root / f".{film_id}.build-{uuid.uuid4().hex[:8]}"
        zip_tmp = out_root / f".{film_id}.zip.tmp-{uuid.uuid4().hex[:8]}"
        hosted_tmp = out_root / f".{film_id}.hosted.tmp-{uuid.uuid4().hex[:8]}"
        try:
            build.mkdir()
            plan = _MediaPlan()
            context = packet_context(film, clips, as_of, generated_at, plan, notes)
            previous_state = read_state(final)
            cache = HashCache(previous=dict(previous_state.hash_cache) if previous_state else {})
            media = {name: cache.entry(name, source) for name, source in plan.files.items()}
            revision = ledger_revision(clips, notes)
            header = {"film": film_id, "as_of": as_of.isoformat(), "ledger_revision": revision}
            digest = manifest_digest(header, media)
            packet_id = _packet_id(film_id, generated_at, digest)
            snapshot = _snapshot(film, context, media, packet_id, generated_at)
            state = next_state(previous_state, snapshot, cache)
            context["changes"] = _mark_changes(context, compare(snapshot, state.baseline))
            context["packet"] = {
                "id": packet_id,
                "manifest_sha256": digest,
                "ledger_revision": revision,
                "data": json_for_script(
                    {
                        "film": film_id,
                        "packet_id": packet_id,
                        "manifest_sha256": digest,
                        "as_of": as_of.isoformat(),
                        "imported": sorted(n.note_id for n in notes),
                    }
                ),
            }
            hosted_view = None
            if hosted is not None:
                hosted_view = {"expires": expiry_label(hosted.expires), "expires_iso": hosted.expires.isoformat()}
            page = _render_once(template, context, hosted_view)
            html = _variant(page, str, (), "offline" if hosted is not None else None)
            reused, added = _place_media(plan, build, final)
            (build / "index.html").write_text(html, encoding="utf-8")
            write_json(build / STATE_NAME, state.to_json())
            files = dict(media)
            for name in ("index.html", STATE_NAME):
                path = build / name
                files[name] = (path.stat().st_size, file_sha256(path))
            header.update(packet_id=packet_id, generated_at=generated_at.isoformat(), manifest_sha256=digest)
            write_json(build / MANIFEST_NAME, manifest_document(header, files))
            if hosted is not None:
                urls = {name: hosted.sign(name) for name in plan.files}
                origins = {o for o in (origin_of(u) for u in urls.values()) if o}
                hosted_tmp.write_text(_variant(page, urls.__getitem__, origins, "hosted"), encoding="utf-8")
            _write_zip(build, film_id, zip_tmp)
            _swap_in(build, final)
            os.replace(zip_tmp, zip_path)
            if hosted is not None:
                os.replace(hosted_tmp, hosted_path)
        except OSError as exc:
            shutil.rmtree(build, ignore_errors=True)
            zip_tmp.unlink(missing_ok=True)
            hosted_tmp.unlink(missing_ok=True)
            raise PacketWriteFailed(final, f"{type(exc).__name__}: {exc.strerror or exc}") from exc
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            zip_tmp.unlink(missing_ok=True)
            hosted_tmp.unlink(missing_ok=True)
            raise
    totals = context["totals"]
    log.info(
        "packet %s (%s): %d scenes, %d clips (%d playable, %d failed), media reused %d, added %d, hashed %d",
        final,
        packet_id,
        totals["scenes"],
        totals["clips"],
        totals["playable"],
        totals["failed"],
        reused,
        added,
        cache.hashed,
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
        packet_id=packet_id,
        manifest_sha256=digest,
        ledger_revision=revision,
        media_hashed=cache.hashed,
        changes=context["changes"]["count"],
        hosted_index=hosted_path if hosted is not None else None,
        hosted_expires=hosted.expires if hosted is not None else None,
    )

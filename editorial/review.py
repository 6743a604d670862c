"""Rendering the review cut from a plan: segments (reused when their key is unchanged), the join, chapters,
subtitles, poster and QC (EBU R128 loudness, true peak, runtime against the film's target).

Everything lands in DOCFILM_HOME/cuts/<film>/review/: `segments/<key>.mp4`, `<film>-review.mp4`, its poster,
`chapters.vtt`, `subtitles.vi.vtt`, `subtitles.en.vtt` and `state.json` (what the join and QC were made from, so
an unchanged cut rewrites nothing and its files stay byte-identical).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from core.jsontypes import JsonObject
from core.timecode import rate_text
from renders.cut import (
    CutPiece,
    card_stream,
    concat_list,
    ffmetadata_chapters,
    join_args,
    loudness_stream,
    poster_stream,
    segment_mux_stream,
    takes_stream,
)
from renders.flags import QcFlag, QcRules, qc_flags
from renders.measurements import Loudness, Measurements
from renders.profile import RenderProfile
from renders.qc import loudness
from renders.runner import run_ffmpeg, temp_path
from renders.settings import RendersSettings
from renders.tools import ffmpeg_exe, font_file
from storyboard.models import Film

from .paths import (
    SUBTITLE_LANGS,
    chapters_file,
    cut_file,
    cut_poster,
    review_dir,
    segment_file,
    segments_dir,
    state_file,
    subtitles_file,
)
from .segments import CutPlan, Segment
from .versions import write_new_file


@dataclass(frozen=True)
class SegmentOutcome:
    scene: str
    frames: int
    rendered: bool
    path: Path


@dataclass(frozen=True)
class CutQc:
    """The review cut's QC: loudness and true peak flagged under the broadcast rules, and its runtime against
    the film's target (over it: a `runtime` flag in seconds, made in `to_json` from the two runtimes)."""

    loudness: Loudness
    flags: tuple[QcFlag, ...]
    runtime_seconds: float
    target_seconds: float
    runtime_ok: bool  # compared as exact frame counts, not as the rounded seconds

    def to_json(self) -> JsonObject:
        """As `cut render --json` shows it under "qc" (keys as before it was a record)."""
        flags: list[object] = [flag.to_json() for flag in self.flags]
        if not self.runtime_ok:
            flags.append({"rule": "runtime", "value": self.runtime_seconds, "limit": self.target_seconds})
        return {
            "flags": flags,
            "loudness": self.loudness.to_json(),
            "runtime_seconds": self.runtime_seconds,
            "target_seconds": self.target_seconds,
            "runtime_ok": self.runtime_ok,
        }


@dataclass(frozen=True)
class ReviewCut:
    path: Path
    poster: Path
    chapters: Path
    subtitles: dict[str, Path]
    segments: list[SegmentOutcome]
    qc: CutQc
    elapsed_s: float  # seconds spent in ffmpeg this run (segments as the wall time of rendering them)
    segments_s: float  # of which rendering segments (the rest: join, loudness, poster)


def _pieces(segment: Segment) -> list[CutPiece]:
    return [CutPiece(kind=p.kind, frames=p.frames, name=p.name, lines=p.lines,
                     proxy=Path(p.proxy) if p.proxy else None, proxy_fps=p.proxy_fps, has_audio=p.has_audio,
                     source_in=p.source_in, source_timecode=p.source_timecode, source_rate=p.source_rate)
            for p in segment.pieces]


def _vtt_time(seconds: Fraction) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _vtt(cues: list[tuple[Fraction, Fraction, str]]) -> str:
    parts = ["WEBVTT", ""]
    for i, (start, end, text) in enumerate(cues, 1):
        parts += [str(i), f"{_vtt_time(start)} --> {_vtt_time(end)}", text.replace("-->", "→").strip(), ""]
    return "\n".join(parts)


def scene_spans(plan: CutPlan) -> list[tuple[str, Fraction, Fraction]]:
    """Each scene's span on the cut in seconds from its start (first to last of its segments), in cut order."""
    spans: dict[str, list[Fraction]] = {}
    for seg in plan.segments:
        start = Fraction(seg.record_in - plan.start_frame) / plan.fps
        end = start + Fraction(seg.frames) / plan.fps
        if seg.scene in spans:
            spans[seg.scene][1] = end
        else:
            spans[seg.scene] = [start, end]
    return [(scene, s, e) for scene, (s, e) in spans.items()]


def audible_spans(plan: CutPlan, margin: Fraction = Fraction(3)) -> list[tuple[Fraction, Fraction]]:
    """The spans of the cut (seconds from its start) within `margin` of a take's sound, overlapping ones merged.

    Only these are measured for loudness: beyond them the cut is digital silence, whose R128 blocks fall under
    the -70 LUFS absolute gate and hold no peak. The margin (ebur128's 3 s short-term window) keeps every block
    and window that reaches into sound as it is in the whole cut.
    """
    total = Fraction(plan.frames) / plan.fps
    spans: list[tuple[Fraction, Fraction]] = []
    for seg in plan.segments:
        for piece in seg.pieces:
            if piece.kind != "take" or not piece.has_audio:
                continue
            start = Fraction(piece.record_in - plan.start_frame) / plan.fps
            end = start + Fraction(piece.frames) / plan.fps
            start, end = max(Fraction(0), start - margin), min(total, end + margin)
            if spans and spans[-1][1] >= start:
                spans[-1] = (spans[-1][0], max(spans[-1][1], end))
            else:
                spans.append((start, end))
    return spans


def _write_if_changed(path: Path, text: str) -> None:
    data = text.encode("utf-8")
    if not (path.is_file() and path.read_bytes() == data):
        write_new_file(path, data)


def render_segment(seg: Segment, plan: CutPlan, profile: RenderProfile, exe: str, font: Path, path: Path,
                   timeout_s: float | None = None) -> float:
    """Render one segment to `path`; the ffmpeg seconds it took.

    Its pictures are made in parts joined by stream copy: each run of consecutive takes in one pass (the record
    timecode running), each card, slate or gap as one GOP-long unit repeated (plus one unit of the remaining
    frames), so a 2-minute slate costs two short encodes, not 3,000 frames. Units are kept under
    `segments/units/`, named by what they show. The sound of all pieces is one AAC encode beside the copied
    pictures.
    """
    pieces = _pieces(seg)
    units = path.parent / "units"
    units.mkdir(parents=True, exist_ok=True)
    profile_hash = profile.profile_hash()
    gop = profile.gop_frames(plan.fps)
    scratch = Path(tempfile.mkdtemp(dir=path.parent, prefix=".parts-"))
    elapsed = 0.0
    parts: list[tuple[Path, int]] = []
    outputs: list[Any] = []  # every part not made yet, rendered by one ffmpeg command
    renames: list[tuple[Path, Path]] = []
    try:
        i = 0
        while i < len(pieces):
            first = seg.pieces[i]
            if first.kind == "take":
                j = i
                while j < len(pieces) and seg.pieces[j].kind == "take":
                    j += 1
                part = scratch / f"takes{i}.mp4"
                outputs.append(takes_stream(pieces[i:j], plan.fps, plan.record_timecode(first.record_in), profile,
                                            font, temp_path(part), first_index=i))
                renames.append((temp_path(part), part))
                parts.append((part, sum(p.frames for p in pieces[i:j])))
                i = j
                continue
            corner = f"{plan.record_timecode(first.record_in)} – {plan.record_timecode(first.record_in + first.frames)}"
            whole, rest = divmod(first.frames, gop)
            for frames, times in ((gop, whole), (rest, 1)):
                if not frames or not times:
                    continue
                key = hashlib.sha256(json.dumps(
                    [profile_hash, rate_text(plan.fps), frames, list(first.lines), corner]).encode()).hexdigest()[:24]
                unit = units / f"{key}.mp4"
                if not unit.is_file() and (temp_path(unit), unit) not in renames:
                    outputs.append(card_stream(first.lines, frames, plan.fps, corner, profile, font, temp_path(unit),
                                               index=len(pieces) + len(outputs)))
                    renames.append((temp_path(unit), unit))
                parts += [(unit, frames)] * times
            i += 1
        if outputs:
            args = ffmpeg.merge_outputs(*outputs).compile(cmd=exe)
            elapsed += run_ffmpeg(args, renames, timeout_s, label=f"segment {seg.scene}: parts").elapsed_s
        list_file = scratch / "parts.ffconcat"
        write_new_file(list_file, concat_list([(p, Fraction(n) / plan.fps) for p, n in parts]).encode())
        graph = segment_mux_stream(list_file, pieces, plan.fps, profile, temp_path(path))
        elapsed += run_ffmpeg(graph.compile(cmd=exe), [(temp_path(path), path)], timeout_s,
                              label=f"segment {seg.scene}").elapsed_s
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return elapsed


@dataclass(frozen=True)
class CutTexts:
    """What the review cut writes besides its pictures: WebVTT chapters and subtitles, the MP4's chapter metadata."""

    chapters: str
    subtitles: dict[str, str]
    metadata: str


def cut_texts(plan: CutPlan, film: Film) -> CutTexts:
    """Chapters per scene (its titles) and the narration (vi, en) over each scene's span on the cut."""
    scenes = {s.id: s for s in film.scenes}
    spans = scene_spans(plan)

    def title(scene: str) -> str:
        s = scenes.get(scene)
        return f"{scene} {s.title.vi} / {s.title.en}" if s is not None else scene

    subtitles = {}
    for lang in ("vi", "en"):
        cues = [(a, b, str(getattr(scenes[sc].narration, lang))) for sc, a, b in spans if sc in scenes]
        subtitles[lang] = _vtt([c for c in cues if c[2].strip()])
    return CutTexts(
        chapters=_vtt([(a, b, title(sc)) for sc, a, b in spans]),
        subtitles=subtitles,
        metadata=ffmetadata_chapters([(title(sc), a, b) for sc, a, b in spans], f"{film.film.id} review cut"),
    )


def _made_from(segment_files: list[str], texts: CutTexts) -> str:
    """What the joined file is made from: its segments (by key) and its chapters."""
    return hashlib.sha256(json.dumps([segment_files, texts.metadata]).encode()).hexdigest()


def _read_state(path: Path) -> dict[str, Any]:
    if path.is_file():
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            return {}
        return state if isinstance(state, dict) else {}
    return {}


def stale_reasons(plan: CutPlan, film: Film, home: Path) -> list[str]:
    """Why the review cut of `plan` is not up to date on disk (empty when rendering it would change nothing).

    Reads files only (no ffmpeg): a segment whose key (its events, their masters and proxies, card texts, the
    render profile) has no file, a join made from other segments or chapters, subtitles or chapters whose text
    changed, a missing output.
    """
    folder = review_dir(home, plan.film_id)
    reasons = []
    missing = [seg.scene for seg in plan.segments if not segment_file(folder, seg.key).is_file()]
    if missing:
        reasons.append(f"{len(missing)} segment(s) to render ({', '.join(dict.fromkeys(missing))})")
    texts = cut_texts(plan, film)
    names = [f"{seg.key}.mp4" for seg in plan.segments]
    out = cut_file(folder, plan.film_id)
    poster = cut_poster(folder, plan.film_id)
    if not (out.is_file() and poster.is_file()):
        reasons.append("no review cut rendered yet")
    elif _read_state(state_file(folder)).get("made_from") != _made_from(names, texts):
        reasons.append("the join is of other segments or chapters")
    files = {folder / "chapters.vtt": texts.chapters}
    files |= {folder / f"subtitles.{lang}.vtt": text for lang, text in texts.subtitles.items()}
    changed = [path.name for path, text in files.items()
               if not (path.is_file() and path.read_bytes() == text.encode("utf-8"))]
    if changed:
        reasons.append(f"{', '.join(changed)} changed")
    return reasons


def write_cut_texts(plan: CutPlan, film: Film, folder: Path) -> tuple[Path, dict[str, Path]]:
    """The cut's chapters (one per scene, titled "<scene id> <vi> / <en>") and subtitles (each scene's narration
    over its span), rewritten only when they change; `facts check` reads them back."""
    texts = cut_texts(plan, film)
    folder.mkdir(parents=True, exist_ok=True)
    chapters = chapters_file(folder)
    _write_if_changed(chapters, texts.chapters)
    subtitles = {}
    for lang in SUBTITLE_LANGS:
        subtitles[lang] = subtitles_file(folder, lang)
        _write_if_changed(subtitles[lang], texts.subtitles[lang])
    return chapters, subtitles


def render_review_cut(
    plan: CutPlan, film: Film, profile: RenderProfile, settings: RendersSettings, home: Path,
    timeout_s: float | None = None, jobs: int = 2,
) -> ReviewCut:
    """Render what is stale of the review cut (`jobs` segments at a time) and return where everything is.

    QC flags the cut's loudness and true peak under the settings' rules (QCVN 115: -23 LUFS ± 1 LU, true peak
    at most -1 dBTP by default), and a runtime over the film's target (rule `runtime`, in seconds).
    """
    folder = review_dir(home, plan.film_id)
    seg_dir = segments_dir(folder)
    seg_dir.mkdir(parents=True, exist_ok=True)
    exe = ffmpeg_exe(settings)
    font = font_file(settings)
    todo = [seg for seg in plan.segments if not segment_file(folder, seg.key).is_file()]
    started = time.monotonic()
    # Two segments at a time: one short ffmpeg run leaves cores idle while it starts, seeks and flushes.
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(todo) or 1))) as pool:
        for future in [pool.submit(render_segment, seg, plan, profile, exe, font, segment_file(folder, seg.key),
                                   timeout_s) for seg in todo]:
            future.result()
    segments_s = time.monotonic() - started if todo else 0.0
    elapsed = segments_s
    keys = {seg.key for seg in todo}
    outcomes = [SegmentOutcome(seg.scene, seg.frames, seg.key in keys, segment_file(folder, seg.key))
                for seg in plan.segments]

    texts = cut_texts(plan, film)
    chapters, subtitles = write_cut_texts(plan, film, folder)

    out = cut_file(folder, plan.film_id)
    poster = cut_poster(folder, plan.film_id)
    meta_text = texts.metadata
    state_path = state_file(folder)
    made_from = _made_from([o.path.name for o in outcomes], texts)
    state = _read_state(state_path)
    if state.get("made_from") != made_from or not out.is_file() or not poster.is_file():
        list_file = folder / ".segments.ffconcat"
        meta_file = folder / ".chapters.ffmeta"
        write_new_file(list_file, concat_list([(o.path, Fraction(o.frames) / plan.fps) for o in outcomes]).encode())
        write_new_file(meta_file, meta_text.encode())
        try:
            result = run_ffmpeg(join_args(exe, list_file, meta_file, temp_path(out)), [(temp_path(out), out)],
                                timeout_s, label="review cut join")
            elapsed += result.elapsed_s
        finally:
            list_file.unlink(missing_ok=True)
            meta_file.unlink(missing_ok=True)
        loud_file = folder / ".loudness.txt"
        spans = audible_spans(plan)
        if spans:
            result = run_ffmpeg(loudness_stream(out, loud_file, spans).compile(cmd=exe), [], timeout_s,
                                label="review cut loudness", scratch=[])
            elapsed += result.elapsed_s
            try:
                measured = loudness(loud_file.read_text(encoding="utf-8"))
            finally:
                loud_file.unlink(missing_ok=True)
        else:
            measured = Loudness(integrated_lufs=-70.0, range_lu=0.0, true_peak_dbtp=None)  # ebur128's silence
        at = min(Fraction(plan.frames, 2), Fraction(plan.fps)) / plan.fps
        graph = poster_stream(out, at, profile, temp_path(poster))
        elapsed += run_ffmpeg(graph.compile(cmd=exe), [(temp_path(poster), poster)], timeout_s,
                              label="review cut poster").elapsed_s
        state = {"made_from": made_from, "loudness": measured.to_json()}
        write_new_file(state_path, json.dumps(state, indent=1).encode())
    runtime = Fraction(plan.frames) / plan.fps
    target = Fraction(film.film.target_runtime_frames) / Fraction(film.film.fps)
    loud = Loudness.from_json(state["loudness"])
    qc = CutQc(loudness=loud, flags=qc_flags(Measurements(loudness=loud), QcRules.from_settings(settings)),
               runtime_seconds=round(float(runtime), 3), target_seconds=round(float(target), 3),
               runtime_ok=runtime <= target)
    return ReviewCut(out, poster, chapters, subtitles, outcomes, qc, elapsed, segments_s)

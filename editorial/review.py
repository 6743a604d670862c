"""Rendering the review cut from a plan: segments (reused when their key is unchanged), the join, chapters,
subtitles, poster and QC (EBU R128 loudness, true peak, runtime against the film's target).

Everything lands in DOCFILM_HOME/cuts/<film>/review/: `segments/<key>.mp4`, `<film>-review.mp4`, its poster,
`chapters.vtt`, `subtitles.vi.vtt`, `subtitles.en.vtt` and `state.json` (what the join and QC were made from, so
an unchanged cut rewrites nothing and its files stay byte-identical).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from renders.cut import (
    CutPiece,
    concat_list,
    ffmetadata_chapters,
    join_args,
    loudness_stream,
    poster_stream,
    segment_stream,
)
from renders.flags import QcRules, qc_flags
from renders.measurements import Loudness, Measurements
from renders.profile import RenderProfile
from renders.qc import loudness
from renders.runner import run_ffmpeg, temp_path
from renders.settings import RendersSettings
from renders.tools import ffmpeg_exe, font_file
from storyboard.models import Film, Scene

from .paths import SUBTITLE_LANGS, chapters_file, review_dir, subtitles_file
from .segments import CutPlan, Segment
from .versions import write_new_file


@dataclass(frozen=True)
class SegmentOutcome:
    scene: str
    frames: int
    rendered: bool
    path: Path


@dataclass(frozen=True)
class ReviewCut:
    path: Path
    poster: Path
    chapters: Path
    subtitles: dict[str, Path]
    segments: list[SegmentOutcome]
    qc: dict[str, Any]
    elapsed_s: float  # ffmpeg time spent this run
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


def _write_if_changed(path: Path, text: str) -> None:
    data = text.encode("utf-8")
    if not (path.is_file() and path.read_bytes() == data):
        write_new_file(path, data)


def _chapter_title(scenes: dict[str, Scene], scene: str) -> str:
    s = scenes.get(scene)
    return f"{scene} {s.title.vi} / {s.title.en}" if s is not None else scene


def write_cut_texts(plan: CutPlan, film: Film, folder: Path) -> tuple[Path, dict[str, Path]]:
    """The cut's chapters (one per scene, titled "<scene id> <vi> / <en>") and subtitles (each scene's narration
    over its span), rewritten only when they change; `facts check` reads them back."""
    scenes = {s.id: s for s in film.scenes}
    spans = scene_spans(plan)

    folder.mkdir(parents=True, exist_ok=True)
    chapters = chapters_file(folder)
    _write_if_changed(chapters, _vtt([(a, b, _chapter_title(scenes, sc)) for sc, a, b in spans]))
    subtitles = {}
    for lang in SUBTITLE_LANGS:
        cues = [(a, b, str(getattr(scenes[sc].narration, lang))) for sc, a, b in spans if sc in scenes]
        cues = [c for c in cues if c[2].strip()]
        subtitles[lang] = subtitles_file(folder, lang)
        _write_if_changed(subtitles[lang], _vtt(cues))
    return chapters, subtitles


def render_review_cut(
    plan: CutPlan, film: Film, profile: RenderProfile, settings: RendersSettings, home: Path,
    timeout_s: float | None = None,
) -> ReviewCut:
    """Render what is stale of the review cut and return where everything is.

    QC flags the cut's loudness and true peak under the settings' rules (QCVN 115: -23 LUFS ± 1 LU, true peak
    at most -1 dBTP by default), and a runtime over the film's target (rule `runtime`, in seconds).
    """
    folder = review_dir(home, plan.film_id)
    seg_dir = folder / "segments"
    seg_dir.mkdir(parents=True, exist_ok=True)
    exe = ffmpeg_exe(settings)
    font = font_file(settings)
    outcomes: list[SegmentOutcome] = []
    elapsed = 0.0
    for seg in plan.segments:
        path = seg_dir / f"{seg.key}.mp4"
        rendered = False
        if not path.is_file():
            graph = segment_stream(_pieces(seg), plan.fps, plan.record_timecode(seg.record_in), profile, font,
                                   temp_path(path))
            result = run_ffmpeg(graph.compile(cmd=exe), [(temp_path(path), path)], timeout_s,
                                label=f"segment {seg.scene}")
            elapsed += result.elapsed_s
            rendered = True
        outcomes.append(SegmentOutcome(seg.scene, seg.frames, rendered, path))
    segments_s = elapsed

    scenes = {s.id: s for s in film.scenes}
    spans = scene_spans(plan)

    chapters, subtitles = write_cut_texts(plan, film, folder)

    out = folder / f"{plan.film_id}-review.mp4"
    poster = folder / f"{plan.film_id}-review.jpg"
    meta_text = ffmetadata_chapters([(_chapter_title(scenes, sc), a, b) for sc, a, b in spans],
                                    f"{film.film.id} review cut")
    state_file = folder / "state.json"
    made_from = hashlib.sha256(json.dumps([[o.path.name for o in outcomes], meta_text]).encode()).hexdigest()
    state: dict[str, Any] = {}
    if state_file.is_file():
        try:
            state = json.loads(state_file.read_text(encoding="utf-8"))
        except ValueError:
            state = {}
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
        result = run_ffmpeg(loudness_stream(out, loud_file).compile(cmd=exe), [], timeout_s,
                            label="review cut loudness", scratch=[])
        elapsed += result.elapsed_s
        try:
            measured = loudness(loud_file.read_text(encoding="utf-8"))
        finally:
            loud_file.unlink(missing_ok=True)
        at = min(Fraction(plan.frames, 2), Fraction(plan.fps)) / plan.fps
        graph = poster_stream(out, at, profile, temp_path(poster))
        elapsed += run_ffmpeg(graph.compile(cmd=exe), [(temp_path(poster), poster)], timeout_s,
                              label="review cut poster").elapsed_s
        state = {"made_from": made_from, "loudness": measured.to_json()}
        write_new_file(state_file, json.dumps(state, indent=1).encode())
    runtime = Fraction(plan.frames) / plan.fps
    target = Fraction(film.film.target_runtime_frames) / Fraction(film.film.fps)
    levels = Measurements(loudness=Loudness.from_json(state["loudness"]))
    flags = [flag.to_json() for flag in qc_flags(levels, QcRules.from_settings(settings))]
    if runtime > target:
        flags.append({"rule": "runtime", "value": round(float(runtime), 3), "limit": round(float(target), 3)})
    qc = {
        "flags": flags,
        "loudness": state["loudness"],
        "runtime_seconds": round(float(runtime), 3),
        "target_seconds": round(float(target), 3),
        "runtime_ok": runtime <= target,
    }
    return ReviewCut(out, poster, chapters, subtitles, outcomes, qc, elapsed, segments_s)

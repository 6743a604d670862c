"""The film at the top of the packet: the review cut's player, chapters per scene grouped by theme, subtitles
carried inside the page, runtime per theme against the plan and the target, and what changed at cut level.

The WebVTT (subtitles and chapters) goes into the page as `data:` URLs: Chromium loads no cues from a
`<track src>` file when the page is opened from file:// (a USB stick), and the same text as a data: URL loads.
The script gets the cut's map (record clock and pieces) to show the record timecode under the playhead and to
resolve a note's frame to its scene, shot and source timecode as `editorial.resolve.resolve` does.
"""

from __future__ import annotations

import base64
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from review.labels import Label, frames_to_minutes_seconds, rescale_frames

if TYPE_CHECKING:
    from editorial.resolve import CutMap
    from review.records import CutRecord
    from storyboard.models import Film

CUT_MEDIA = "media/cut-review.mp4"
CUT_POSTER = "media/cut-review-poster.jpg"
SUBTITLE_NAMES = {"vi": Label("Tiếng Việt", "Vietnamese"), "en": Label("Tiếng Anh", "English")}


@dataclass(frozen=True)
class ChapterView:
    scene: str
    title: Label
    first_frame: int
    frames: int
    record_timecode: str
    length: str  # M:SS


@dataclass(frozen=True)
class ThemeChapters:
    id: str
    title: Label
    chapters: tuple[ChapterView, ...]


@dataclass(frozen=True)
class RuntimeRow:
    """A theme's (or the whole film's) runtime as cut against planned; frames at the film's rate."""

    id: str
    title: Label
    cut_frames: int
    planned_frames: int
    cut: str
    planned: str
    delta: str  # +M:SS / −M:SS

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "cut_frames": self.cut_frames, "planned_frames": self.planned_frames,
                "cut": self.cut, "planned": self.planned}


@dataclass(frozen=True)
class Runtimes:
    """Runtime per theme as cut against planned, the whole film, and the film's target (28:00)."""

    themes: tuple[RuntimeRow, ...]
    total: RuntimeRow
    target_frames: int
    target: str
    over_target: bool

    def to_json(self) -> dict[str, object]:
        return {"themes": [t.to_json() for t in self.themes], "cut_frames": self.total.cut_frames,
                "planned_frames": self.total.planned_frames, "target_frames": self.target_frames,
                "over_target": self.over_target}


@dataclass(frozen=True)
class SubtitleTrack:
    lang: str
    label: Label
    src: str  # data: URL
    default: bool


@dataclass(frozen=True)
class CutView:
    """The film section: a player when the current cut is rendered, else the reason, and its runtimes."""

    playable: bool
    version: int
    start_timecode: str
    fps: str
    frames: int
    runtimes: Runtimes
    themes: tuple[ThemeChapters, ...]
    media_src: str | None = None
    poster_src: str | None = None
    subtitles: tuple[SubtitleTrack, ...] = ()
    chapters_src: str | None = None
    reason: str | None = None
    changes: CutChanges | None = None


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def vtt_data_url(text: str) -> str:
    """WebVTT text as a data: URL (base64, UTF-8), so a <track> loads it from file:// too."""
    return "data:text/vtt;charset=utf-8;base64," + base64.b64encode(_nfc(text).encode("utf-8")).decode("ascii")


def _signed(frames: int, fps: Fraction | int) -> str:
    sign = "+" if frames >= 0 else "−"
    return sign + frames_to_minutes_seconds(abs(frames), fps)


def runtimes(film: Film, cut: CutMap) -> Runtimes:
    """Runtime per theme as cut (its scenes' frames on the cut) against planned, at the film's rate."""
    fps = film.film.fps
    per_scene = cut.scene_frames()
    theme_of = {s.id: s.theme for s in film.scenes}
    rows = []
    for theme in sorted(film.themes, key=lambda t: (t.order, t.id)):
        cut_frames = rescale_frames(sum(f for s, f in per_scene.items() if theme_of.get(s) == theme.id), cut.fps, fps)
        planned = sum(s.planned_frames for s in film.scenes if s.theme == theme.id)
        rows.append(RuntimeRow(theme.id, Label(theme.title.vi, theme.title.en), cut_frames, planned,
                               frames_to_minutes_seconds(cut_frames, fps), frames_to_minutes_seconds(planned, fps),
                               _signed(cut_frames - planned, fps)))
    total_cut = rescale_frames(cut.frames, cut.fps, fps)
    planned_total = sum(s.planned_frames for s in film.scenes)
    total = RuntimeRow("film", Label("Cả phim", "Whole film"), total_cut, planned_total,
                       frames_to_minutes_seconds(total_cut, fps), frames_to_minutes_seconds(planned_total, fps),
                       _signed(total_cut - planned_total, fps))
    target = film.film.target_runtime_frames
    return Runtimes(tuple(rows), total, target, frames_to_minutes_seconds(target, fps), total_cut > target)


def _chapters(film: Film, cut: CutMap) -> tuple[ThemeChapters, ...]:
    scenes = {s.id: s for s in film.scenes}
    spans = cut.scene_spans()
    groups: list[ThemeChapters] = []
    for theme in sorted(film.themes, key=lambda t: (t.order, t.id)):
        chapters = tuple(
            ChapterView(scene, Label(scenes[scene].title.vi, scenes[scene].title.en), first, frames,
                        cut.record_timecode(first), frames_to_minutes_seconds(frames, cut.fps))
            for scene, first, frames in spans if scene in scenes and scenes[scene].theme == theme.id
        )
        if chapters:
            groups.append(ThemeChapters(theme.id, Label(theme.title.vi, theme.title.en), chapters))
    other = tuple(ChapterView(scene, Label(scene, scene), first, frames, cut.record_timecode(first),
                              frames_to_minutes_seconds(frames, cut.fps))
                  for scene, first, frames in spans if scene not in scenes)
    if other:
        groups.append(ThemeChapters("", Label("Ngoài kịch bản", "Not in the storyboard"), other))
    return tuple(groups)


def cut_view(film: Film, record: CutRecord, changes: CutChanges | None) -> CutView:
    """The film section of the page from the current cut (media links are packet names, see CUT_MEDIA)."""
    cut = record.map
    playable = record.path is not None
    tracks = tuple(SubtitleTrack(lang, SUBTITLE_NAMES.get(lang, Label(lang, lang)), vtt_data_url(text), lang == "vi")
                   for lang, text in sorted(record.subtitles.items(), key=lambda kv: kv[0] != "vi")) if playable else ()
    return CutView(
        playable=playable,
        version=cut.version,
        start_timecode=cut.start_timecode,
        fps=f"{cut.fps.numerator}/{cut.fps.denominator}",
        frames=cut.frames,
        runtimes=runtimes(film, cut),
        themes=_chapters(film, cut),
        media_src=CUT_MEDIA if playable else None,
        poster_src=CUT_POSTER if playable and record.poster is not None else None,
        subtitles=tracks,
        chapters_src=vtt_data_url(record.chapters) if playable and record.chapters else None,
        reason=record.reason,
        changes=changes,
    )


def script_cut(record: CutRecord) -> dict[str, object]:
    """The cut as the page's script reads it: record clock and pieces (see editorial.resolve), and when the
    rendered file presents its first picture."""
    return {**record.map.to_json(), "video_start": record.video_start}


# ---------------------------------------------------------------- cut-level changes
def cut_snapshot(cut: CutMap) -> dict[str, object]:
    """What the packet's film was, for the next packet to compare: scene lengths and each take in scene order."""
    takes: list[dict[str, object]] = []
    counts: dict[str, int] = {}
    for event in cut.events:
        if event.kind != "take":
            continue
        counts[event.scene] = counts.get(event.scene, 0) + 1
        takes.append({"slot": f"{event.scene}#{counts[event.scene]}", "scene": event.scene, "shot": event.shot,
                      "asset": event.asset_id, "name": event.name, "src_in": event.source_in,
                      "frames": event.frames})
    return {"version": cut.version, "sha256": cut.sha256, "fps": f"{cut.fps.numerator}/{cut.fps.denominator}",
            "scenes": cut.scene_frames(), "takes": takes}


@dataclass(frozen=True)
class ShotChange:
    scene: str
    shot: str | None
    name: str
    before: str  # the previous take's name (replaced) or its range
    in_delta: int = 0  # re-trimmed: frames the source in point moved
    frames_delta: int = 0  # re-trimmed: frames the take grew (+) or lost (−)


@dataclass(frozen=True)
class CutChanges:
    """Cut-level changes since the last packet's film (`since_version` None: that packet showed no cut)."""

    since_version: int | None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    retimed: tuple[tuple[str, int], ...] = ()  # (scene, ± frames)
    replaced: tuple[ShotChange, ...] = ()
    retrimmed: tuple[ShotChange, ...] = ()
    fps: str = ""

    @property
    def count(self) -> int:
        return len(self.added) + len(self.removed) + len(self.retimed) + len(self.replaced) + len(self.retrimmed)


def compare_cuts(current: dict[str, object], since: dict[str, object] | None) -> CutChanges | None:
    """Scenes added, removed or re-timed and shots replaced or re-trimmed; None when there is nothing to compare."""
    if since is None or not isinstance(since.get("scenes"), dict):
        return None
    now_scenes = dict(current["scenes"])  # type: ignore[call-overload]
    was_scenes = dict(since["scenes"])  # type: ignore[call-overload]
    added = tuple(s for s in now_scenes if s not in was_scenes)
    removed = tuple(s for s in was_scenes if s not in now_scenes)
    retimed = tuple((s, int(now_scenes[s]) - int(was_scenes[s])) for s in now_scenes
                    if s in was_scenes and int(now_scenes[s]) != int(was_scenes[s]))
    was_takes = {str(t["slot"]): t for t in since.get("takes") or [] if isinstance(t, dict)}  # type: ignore[attr-defined]
    replaced: list[ShotChange] = []
    retrimmed: list[ShotChange] = []
    for take in current["takes"]:  # type: ignore[attr-defined]
        before = was_takes.get(str(take["slot"]))
        if before is None:
            continue
        if before.get("asset") != take["asset"]:
            replaced.append(ShotChange(take["scene"], take["shot"], take["name"], str(before.get("name"))))
        elif before.get("src_in") != take["src_in"] or before.get("frames") != take["frames"]:
            retrimmed.append(ShotChange(take["scene"], take["shot"], take["name"], str(before.get("name")),
                                        int(take["src_in"]) - int(before.get("src_in") or 0),
                                        int(take["frames"]) - int(before.get("frames") or 0)))
    version = since.get("version")
    return CutChanges(int(version) if isinstance(version, int) else None, added, removed, retimed,
                      tuple(replaced), tuple(retrimmed), str(current.get("fps", "")))

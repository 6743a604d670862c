"""Where each theme and scene stands against the milestones: the `docfilm status` report and its tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from core.timecode import parse_rate
from core.vocabulary import ReviewState
from review.coverage import assign_clips
from review.cut import Runtimes, runtimes
from review.labels import rescale_frames
from review.notes import ReviewNote, notes_by_scene, scene_review_states
from review.records import ClipRecord

if TYPE_CHECKING:
    from editorial.resolve import CutMap
    from review.labels import Lang
    from review.status_tables import StatusTables
    from storyboard.models import Film, Milestone

__all__ = [
    "MilestoneRow",
    "NoteRow",
    "SceneRow",
    "StatusReport",
    "ThemeRow",
    "UnassignedRow",
    "footage_frames",
    "milestone_state",
    "status_report",
    "status_table",
]


def milestone_state(due: date | None, as_of: date) -> tuple[int | None, str]:
    """Days left (negative when overdue, None without a date) and the state of a milestone on `as_of`."""
    if due is None:
        return None, "no-date"
    days_left = (due - as_of).days
    if days_left > 0:
        return days_left, "upcoming"
    if days_left == 0:
        return 0, "due-today"
    return days_left, "overdue"


def footage_frames(clips: Iterable[ClipRecord], film_fps: int) -> int:
    """Total running time of the video and audio clips, in frames at the film's rate (stills count 0)."""
    total = 0
    for clip in clips:
        rate = parse_rate(clip.fps)
        if clip.kind == "still" or clip.duration_frames is None or rate is None:
            continue
        total += rescale_frames(clip.duration_frames, rate, film_fps)
    return total


@dataclass(frozen=True)
class MilestoneRow:
    """A milestone on the as-of date: `state` is upcoming, due-today, overdue or no-date."""

    id: str
    due: date | None
    days_left: int | None
    state: str
    title_vi: str
    title_en: str

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "due": self.due.isoformat() if self.due else None, "days_left": self.days_left,
                "state": self.state, "title_vi": self.title_vi, "title_en": self.title_en}


@dataclass(frozen=True)
class ThemeRow:
    """A theme: how many scenes it has and how many are ready for review."""

    id: str
    scenes: int
    ready: int
    title_vi: str
    title_en: str

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "scenes": self.scenes, "ready": self.ready, "title_vi": self.title_vi,
                "title_en": self.title_en}


@dataclass(frozen=True)
class NoteRow:
    """A reviewer's note on a scene (or one of its clips)."""

    id: str
    reviewer: str
    verdict: str
    asset_id: str | None
    timecode: str | None
    text: str
    written_at: str

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "reviewer": self.reviewer, "verdict": self.verdict, "asset_id": self.asset_id,
                "timecode": self.timecode, "text": self.text, "written_at": self.written_at}


@dataclass(frozen=True)
class FigureBlock:
    """A figure the film states that is not sourced, which keeps its scene from being ready for review."""

    file: str
    line: int
    col: int
    text: str
    result: str

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "col": self.col, "text": self.text, "result": self.result}


@dataclass(frozen=True)
class SceneRow:
    """A scene: its storyboard state, footage, proxies, QC flags, readiness and review."""

    id: str
    theme: str
    state: str
    assets: int
    proxies: int
    failed: int
    qc_flags: int
    ready: bool
    title_vi: str
    title_en: str
    planned_frames: int
    footage_frames: int
    shots: int
    shots_covered: int
    review: ReviewState
    notes: tuple[NoteRow, ...]
    blocked_by: tuple[FigureBlock, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "theme": self.theme, "state": self.state, "assets": self.assets,
                "proxies": self.proxies, "failed": self.failed, "qc_flags": self.qc_flags, "ready": self.ready,
                "title_vi": self.title_vi, "title_en": self.title_en, "planned_frames": self.planned_frames,
                "footage_frames": self.footage_frames, "shots": self.shots, "shots_covered": self.shots_covered,
                "review": self.review, "notes": [n.to_json() for n in self.notes],
                "blocked_by": [b.to_json() for b in self.blocked_by]}


@dataclass(frozen=True)
class UnassignedRow:
    """A clip that belongs to no scene of the film."""

    asset_id: str
    name: str
    scene_id: str | None
    shot_id: str | None

    def to_json(self) -> dict[str, object]:
        return {"asset_id": self.asset_id, "name": self.name, "scene_id": self.scene_id, "shot_id": self.shot_id}


@dataclass(frozen=True)
class QuarantinedRow:
    """A clip whose master is quarantined: left out of the renders until it is ingested again."""

    asset_id: str
    name: str
    scene_id: str | None
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"asset_id": self.asset_id, "name": self.name, "scene_id": self.scene_id, "reason": self.reason}


@dataclass(frozen=True)
class CutRuntime:
    """The current cut's runtime per theme as cut against planned, and the film's target (frames at film fps)."""

    version: int
    fps: str  # the cut's own rate
    frames: int  # at the cut's rate
    runtimes: Runtimes

    def to_json(self) -> dict[str, object]:
        return {"version": self.version, "fps": self.fps, "frames": self.frames, **self.runtimes.to_json()}


@dataclass(frozen=True)
class StatusReport:
    """The whole report; `to_json()` is the `docfilm status --json` object (DESIGN.md's keys and more)."""

    as_of: date
    film: str
    fps: int
    milestones: tuple[MilestoneRow, ...]
    themes: tuple[ThemeRow, ...]
    scenes: tuple[SceneRow, ...]
    planned_frames: int
    target_runtime_frames: int
    unassigned: tuple[UnassignedRow, ...]
    cut: CutRuntime | None = None  # the current cut's runtime per theme, when the film has a cut
    quarantined: tuple[QuarantinedRow, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "as_of": self.as_of.isoformat(),
            "film": self.film,
            "fps": self.fps,
            "milestones": [m.to_json() for m in self.milestones],
            "themes": [t.to_json() for t in self.themes],
            "scenes": [s.to_json() for s in self.scenes],
            "planned_frames": self.planned_frames,
            "target_runtime_frames": self.target_runtime_frames,
            "unassigned": [u.to_json() for u in self.unassigned],
            "cut": self.cut.to_json() if self.cut is not None else None,
            "quarantined": [q.to_json() for q in self.quarantined],
        }


def _flag_count(clip: ClipRecord) -> int:
    flags = clip.qc.get("flags") if clip.qc else None
    return len(flags) if isinstance(flags, list) else 0


def _milestone_row(milestone: Milestone, as_of: date) -> MilestoneRow:
    days_left, state = milestone_state(milestone.due, as_of)
    return MilestoneRow(milestone.id, milestone.due, days_left, state, milestone.title.vi, milestone.title.en)


def _note_row(note: ReviewNote) -> NoteRow:
    return NoteRow(note.note_id, note.reviewer, note.verdict, note.asset_id, note.timecode, note.text,
                   note.written_at.isoformat())


def status_report(
    film: Film,
    clips: Iterable[ClipRecord],
    as_of: date,
    notes: Iterable[ReviewNote] = (),
    blocked_by: Mapping[str, Sequence[FigureBlock]] | None = None,
    cut: CutMap | None = None,
) -> StatusReport:
    """Where `film` stands with the ledger's `clips` on `as_of`.

    Milestone state is "upcoming" (days_left > 0), "due-today" (0), "overdue" (days_left < 0, negative) or
    "no-date" (days_left null). A scene is ready, and counts in its theme's `ready`, when each of its shots
    has at least one clip whose proxy is done; a scene without shots is ready once it has one clip with a
    done proxy (see `review.coverage.Coverage`). Per scene, `assets` counts its clips and `proxies` those
    with a done proxy. Clips that belong to no scene of the film are listed under `unassigned`. Reviewers'
    imported `notes` are listed per scene (`notes`) with the scene's `review` state: "approved",
    "changes-requested" or "no-review" (see `review.notes.scene_review_states`). `blocked_by` gives, per scene
    id, the figures its texts state that are not sourced (from `figures.check`): such a scene is not ready.
    With the film's current `cut` (editorial.resolve.CutMap), `cut` gives its runtime per theme against planned.
    """
    clips = list(clips)
    coverage = assign_clips(film, clips)
    notes = [n for n in notes if n.film_id == film.film.id]
    grouped = notes_by_scene(notes)
    reviews = scene_review_states(notes)
    scenes: list[SceneRow] = []
    for scene in sorted(film.scenes, key=lambda s: (s.order, s.id)):
        footage = coverage.of(scene)
        scene_clips = footage.clips
        done = [c for c in scene_clips if c.has_done_proxy]
        blocks = tuple((blocked_by or {}).get(scene.id, ()))
        scenes.append(
            SceneRow(
                id=scene.id,
                theme=scene.theme,
                state=str(scene.state),
                assets=len(scene_clips),
                proxies=len(done),
                failed=sum(1 for c in scene_clips if c.proxy_state == "failed"),
                qc_flags=sum(_flag_count(c) for c in done),
                ready=footage.is_ready() and not blocks,
                title_vi=scene.title.vi,
                title_en=scene.title.en,
                planned_frames=scene.planned_frames,
                footage_frames=footage_frames(scene_clips, film.film.fps),
                shots=len(scene.shots),
                shots_covered=len(footage.covered_shots()),
                review=reviews.get(scene.id, "no-review"),
                notes=tuple(_note_row(n) for n in grouped.get(scene.id, [])),
                blocked_by=blocks,
            )
        )
    themes = tuple(
        ThemeRow(
            id=theme.id,
            scenes=sum(1 for s in scenes if s.theme == theme.id),
            ready=sum(1 for s in scenes if s.theme == theme.id and s.ready),
            title_vi=theme.title.vi,
            title_en=theme.title.en,
        )
        for theme in sorted(film.themes, key=lambda t: (t.order, t.id))
    )
    return StatusReport(
        as_of=as_of,
        film=film.film.id,
        fps=film.film.fps,
        milestones=tuple(_milestone_row(m, as_of) for m in film.milestones),
        themes=themes,
        scenes=tuple(scenes),
        planned_frames=sum(scene.planned_frames for scene in film.scenes),
        target_runtime_frames=film.film.target_runtime_frames,
        unassigned=tuple(UnassignedRow(c.asset_id, c.name, c.scene_id, c.shot_id) for c in coverage.unassigned),
        cut=CutRuntime(cut.version, f"{cut.fps.numerator}/{cut.fps.denominator}", cut.frames, runtimes(film, cut))
        if cut is not None else None,
        quarantined=tuple(QuarantinedRow(c.asset_id, c.name, c.scene_id, c.quarantined)
                          for c in clips if c.quarantined),
    )


def status_table(report: StatusReport, lang: Lang | None = None) -> StatusTables:
    """Rich tables of a report, in `lang` ("vi" or "en"), or bilingual where the terminal is wide enough."""
    # Rich is imported only when tables are printed: `status --json` stays quick.
    from review.status_tables import StatusTables

    return StatusTables(report, lang)

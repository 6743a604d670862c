"""Building the packet's view model (`review.views`) from the film, the ledger's clips and the reviewers' notes."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING

from review.cards import clip_view, figure_views, scene_facts
from review.changes import Changes
from review.coverage import Coverage, SceneFootage
from review.cut import CutView
from review.labels import (
    MILESTONE_STATES,
    REVIEW_STATES,
    SCENE_STATES,
    SHOT_KINDS,
    VERDICTS,
    VIETNAM_TIME,
    Label,
    date_label,
    days_left_label,
    frames_to_minutes_seconds,
    lookup,
)
from review.media import MediaPlan
from review.notes import ReviewNote, notes_by_scene, scene_review_states
from review.records import ClipRecord
from review.status import footage_frames, milestone_state
from review.views import (
    ChangedClip,
    ChangesView,
    ClipView,
    CommissionView,
    FilmView,
    MilestoneView,
    NoteView,
    PacketInfo,
    PacketPage,
    SceneChange,
    SceneView,
    ShotView,
    StateCount,
    ThemeView,
    Totals,
)

if TYPE_CHECKING:
    from editorial.resolve import CutMap, Resolution
    from figures.check import FigureCheck
    from storyboard.models import Film, Milestone, Scene, Shot, Text, Theme

log = logging.getLogger(__name__)

def _label(text: Text) -> Label:
    return Label(text.vi, text.en)


def _maybe_label(text: Text | None) -> Label | None:
    return None if text is None else Label(text.vi, text.en)


def clips_in_order(film: Film, coverage: Coverage) -> Iterator[ClipRecord]:
    """Every clip in the order the page shows them: theme, scene, shot, other footage; then the unassigned."""
    for theme in sorted(film.themes, key=lambda t: (t.order, t.id)):
        for scene in _scenes_of(film, theme.id):
            yield from coverage.of(scene).clips
    yield from coverage.unassigned


def _scenes_of(film: Film, theme_id: str) -> list[Scene]:
    return [s for s in sorted(film.scenes, key=lambda s: (s.order, s.id)) if s.theme == theme_id]


def _shot_view(shot: Shot, clips: tuple[ClipView, ...]) -> ShotView:
    return ShotView(
        id=shot.id,
        kind=str(shot.kind),
        kind_label=lookup(SHOT_KINDS, str(shot.kind)),
        description=_label(shot.description),
        location=shot.location,
        facts=tuple(shot.facts),
        covered=any(c.state == "playable" for c in clips),
        clips=clips,
    )


def vn_time(moment: datetime) -> str:
    """A moment as dd/mm/yyyy hh:mm in Vietnam time (naive moments are shown as they are)."""
    local = moment.astimezone(VIETNAM_TIME) if moment.tzinfo else moment
    return f"{local.day:02d}/{local.month:02d}/{local.year} {local.hour:02d}:{local.minute:02d}"


def resolved_text(resolution: Resolution | None, clip_names: Mapping[str, str]) -> str | None:
    """A note's frame of the film in words: shot · clip · source timecode, or the card (scene only)."""
    if resolution is None:
        return None
    if resolution.asset_id is None:
        return resolution.name
    clip = clip_names.get(resolution.asset_id, resolution.name)
    parts = [p for p in (resolution.shot, clip, resolution.source_timecode) if p]
    return " · ".join(parts)


def _note_view(note: ReviewNote, clip_names: Mapping[str, str], cut: CutMap | None = None) -> NoteView:
    """A received note; one taken on the film shows what is under its record timecode of `cut` (the current cut:
    the ledger keeps a film note's record timecode and the scene resolved at import, not its cut version)."""
    from editorial.resolve import resolve_timecode

    on_cut = note.asset_id is None and note.timecode is not None
    resolution = resolve_timecode(cut, note.timecode) if on_cut and cut is not None and note.timecode else None
    return NoteView(
        id=note.note_id,
        reviewer=note.reviewer,
        verdict=note.verdict,
        verdict_label=lookup(VERDICTS, note.verdict),
        text=note.text,
        timecode=note.timecode,
        clip=clip_names.get(note.asset_id, note.asset_id) if note.asset_id else None,
        asset_id=note.asset_id,
        written=vn_time(note.written_at),
        on_cut=on_cut,
        resolved=resolved_text(resolution, clip_names),
    )


class _PageBuilder:
    """What every scene view needs: the film, the media plan, the notes and what changed."""

    def __init__(self, film: Film, clips: list[ClipRecord], as_of: date, plan: MediaPlan,
                 notes: list[ReviewNote], changes: Changes, cut: CutMap | None = None) -> None:
        self.film, self.as_of, self.plan, self.changes, self.cut = film, as_of, plan, changes, cut
        self.scene_ids = {scene.id for scene in film.scenes}
        self.clip_names = {c.asset_id: c.name for c in clips}
        self.grouped = notes_by_scene(notes)
        self.reviews = scene_review_states(notes)

    def clip(self, clip: ClipRecord, scene_id: str | None) -> ClipView:
        return clip_view(clip, self.plan, self.scene_ids, scene_id, self.changes)

    def scene(self, scene: Scene, footage: SceneFootage) -> SceneView:
        shots = tuple(
            _shot_view(shot, tuple(self.clip(c, scene.id) for c in footage.by_shot[shot.id])) for shot in scene.shots
        )
        other = tuple(self.clip(c, scene.id) for c in footage.other)
        fps = self.film.film.fps
        clips = footage.clips
        review = self.reviews.get(scene.id, "no-review")
        change: SceneChange | None = None
        if scene.id in self.changes.new_scenes:
            change = "new"
        elif scene.id in self.changes.changed_scenes:
            change = "changed"
        cards = tuple(c for sh in shots for c in sh.clips) + other
        return SceneView(
            id=scene.id,
            theme=scene.theme,
            order=scene.order,
            title=_label(scene.title),
            narration=_label(scene.narration),
            planned=frames_to_minutes_seconds(scene.planned_frames, fps),
            planned_frames=scene.planned_frames,
            footage_frames=footage_frames(clips, fps),
            proxy_frames=footage_frames((c for c in clips if c.has_done_proxy), fps),
            state=str(scene.state),
            state_label=lookup(SCENE_STATES, str(scene.state)),
            ready=footage.is_ready(),
            shots=shots,
            shots_covered=sum(1 for s in shots if s.covered),
            other_clips=other,
            facts=scene_facts(self.film, scene, self.as_of),
            clip_count=len(clips),
            review=review,
            review_label=REVIEW_STATES[review],
            notes=tuple(_note_view(n, self.clip_names, self.cut) for n in self.grouped.get(scene.id, [])),
            change=change,
            clip_changes=sum(1 for c in cards if c.change),
        )


def _theme_view(theme: Theme, scenes: tuple[SceneView, ...], fps: int) -> ThemeView:
    states = Counter(s.state for s in scenes)
    reviews = Counter(s.review for s in scenes)
    planned = sum(s.planned_frames for s in scenes)
    footage = sum(s.footage_frames for s in scenes)
    proxies = sum(s.proxy_frames for s in scenes)
    return ThemeView(
        id=theme.id,
        order=theme.order,
        title=_label(theme.title),
        scenes=scenes,
        ready=sum(1 for s in scenes if s.ready),
        planned=frames_to_minutes_seconds(planned, fps),
        footage=frames_to_minutes_seconds(footage, fps),
        proxies=frames_to_minutes_seconds(proxies, fps),
        footage_pct=round(100 * footage / planned) if planned else 0,
        proxies_pct=round(100 * proxies / planned) if planned else 0,
        by_state=tuple(StateCount(k, label, states[k]) for k, label in SCENE_STATES.items() if states[k]),
        by_review=tuple(StateCount(k, label, reviews[k]) for k, label in REVIEW_STATES.items() if reviews[k]),
    )


def _milestone_view(milestone: Milestone, as_of: date) -> MilestoneView:
    days_left, state = milestone_state(milestone.due, as_of)
    return MilestoneView(
        id=milestone.id,
        title=_label(milestone.title),
        due=date_label(milestone.due) if milestone.due else None,
        due_iso=milestone.due.isoformat() if milestone.due else None,
        state=state,
        state_label=MILESTONE_STATES[state],
        days=days_left_label(days_left),
        audience=_maybe_label(milestone.audience),
        note=_maybe_label(milestone.note),
    )


def _primary_milestone(milestones: tuple[MilestoneView, ...]) -> MilestoneView | None:
    """The milestone the cover counts down to: the next one due, else the last one passed."""
    dated = [m for m in milestones if m.due_iso]
    upcoming = sorted((m for m in dated if m.state in ("upcoming", "due-today")), key=lambda m: m.due_iso or "")
    if upcoming:
        return upcoming[0]
    passed = sorted(dated, key=lambda m: m.due_iso or "")
    return passed[-1] if passed else (milestones[0] if milestones else None)


def _changes_view(changes: Changes, scenes: tuple[SceneView, ...], clips: Mapping[str, ClipView]) -> ChangesView:
    def listed(asset_ids: Iterable[str]) -> tuple[ChangedClip, ...]:
        entries = (ChangedClip(a, clips[a].name, clips[a].scene_id) for a in asset_ids)
        return tuple(sorted(entries, key=lambda e: (e.scene_id or "~", e.name)))

    since = changes.since
    return ChangesView(
        first=since is None,
        since_id=since.packet_id if since else None,
        since=vn_time(datetime.fromisoformat(since.generated_at)) if since and since.generated_at else None,
        count=changes.count,
        new_scenes=tuple(s for s in scenes if s.change == "new"),
        changed_scenes=tuple(s for s in scenes if s.change == "changed"),
        new_clips=listed(changes.new_clips),
        updated_proxies=listed(changes.updated_proxies),
    )


def packet_page(
    film: Film,
    coverage: Coverage,
    as_of: date,
    generated_at: datetime,
    plan: MediaPlan,
    notes: Iterable[ReviewNote],
    changes: Changes,
    packet: PacketInfo,
    figures: Iterable[FigureCheck] = (),
    cut: CutView | None = None,
    cut_map: CutMap | None = None,
) -> PacketPage:
    """Everything the template shows. `plan` must already hold every clip of `coverage` (`MediaPlan.add_clip`).

    Notes taken on the film show what is under their frame of `cut_map` (the current cut)."""
    notes = [n for n in notes if n.film_id == film.film.id]
    clips = list(clips_in_order(film, coverage))
    build = _PageBuilder(film, clips, as_of, plan, notes, changes, cut_map)
    fps = film.film.fps
    themes = tuple(
        _theme_view(theme, tuple(build.scene(s, coverage.of(s)) for s in _scenes_of(film, theme.id)), fps)
        for theme in sorted(film.themes, key=lambda t: (t.order, t.id))
    )
    milestones = tuple(_milestone_view(m, as_of) for m in film.milestones)
    unassigned = tuple(build.clip(c, None) for c in coverage.unassigned)
    all_scenes = tuple(s for t in themes for s in t.scenes)
    all_clips = tuple(c for s in all_scenes for c in s.clips) + unassigned
    info = film.film
    commission = info.commission
    reviews_count = Counter(s.review for s in all_scenes)
    return PacketPage(
        film=FilmView(
            id=info.id,
            title=_label(info.title),
            subtitle=_maybe_label(info.subtitle),
            producer=_label(info.producer),
            term=info.term,
            fps=fps,
            target_runtime=frames_to_minutes_seconds(info.target_runtime_frames, fps),
            planned_runtime=frames_to_minutes_seconds(sum(s.planned_frames for s in film.scenes), fps),
        ),
        commission=CommissionView(
            reference=commission.reference,
            dated=date_label(commission.dated),
            issuer=_label(commission.issuer),
            summary=_label(commission.summary),
        ),
        as_of=date_label(as_of),
        as_of_iso=as_of.isoformat(),
        generated_at=generated_at.isoformat(sep=" ", timespec="minutes"),
        milestones=milestones,
        primary_milestone=_primary_milestone(milestones),
        themes=themes,
        unassigned=unassigned,
        totals=Totals(
            scenes=len(all_scenes),
            ready=sum(1 for s in all_scenes if s.ready),
            shots=sum(len(s.shots) for s in all_scenes),
            shots_covered=sum(s.shots_covered for s in all_scenes),
            clips=len(all_clips),
            playable=sum(1 for c in all_clips if c.state == "playable"),
            failed=sum(1 for c in all_clips if c.state in ("failed", "missing")),
            unassigned=len(unassigned),
            notes=len(notes),
            approved=reviews_count["approved"],
            changes_requested=reviews_count["changes-requested"],
            planned=frames_to_minutes_seconds(sum(s.planned_frames for s in all_scenes), fps),
            footage=frames_to_minutes_seconds(sum(s.footage_frames for s in all_scenes), fps),
            proxies=frames_to_minutes_seconds(sum(s.proxy_frames for s in all_scenes), fps),
        ),
        changes=_changes_view(changes, all_scenes, {c.asset_id: c for c in all_clips}),
        packet=packet,
        figures=figure_views(film, figures, as_of),
        cut=cut,
    )

"""The packet's view model: what the page shows, as frozen records of plain strings, numbers and labels.

`review.context` builds them from the film, the ledger's clips and the reviewers' notes; the Jinja2 template
reads their attributes. Nothing here is a path or an object to call: a view is safe to render as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from markupsafe import Markup

from review.cut import CutView
from review.labels import Label

# How a clip shows in the packet: playable (its proxy is in media/), failed (with the reason), pending (not
# rendered yet) or missing (the ledger says done but the proxy file is gone).
ClipState = Literal["playable", "failed", "pending", "missing"]
# What changed since the previous packet: a new clip, or its proxy re-rendered; a new or changed scene.
ClipChange = Literal["new", "proxy"]
SceneChange = Literal["new", "changed"]


@dataclass(frozen=True)
class QcFlagView:
    """One QC problem of a clip: its rule, a label (None when the detail already names it), where."""

    kind: str
    label: Label | None
    detail: Label | None
    tc: str | None


@dataclass(frozen=True)
class ClipView:
    """One clip's card: what it is, its timing, its media links (packet-relative) and its QC flags."""

    asset_id: str
    name: str
    kind: str
    kind_label: Label
    start_timecode: str | None
    duration_timecode: str | None
    duration_frames: int | None
    fps: str | None  # as editors say it: 25, 29.97
    rate: str | None  # as the script reads it: 30000/1001
    width: int | None
    height: int | None
    rotation: int
    sha256_short: str
    scene_given: str | None  # a scene id the clip named that the film does not have
    scene_id: str | None
    state: ClipState
    media_src: str | None
    media_type: str | None
    poster_src: str | None
    sheet_src: str | None
    qc_flags: tuple[QcFlagView, ...]
    reason: str
    change: ClipChange | None


@dataclass(frozen=True)
class FactView:
    """A figure a shot uses; value and unit only when known on the packet's as-of date."""

    id: str
    label: Label
    known: bool
    value: str | None
    unit: str | None
    year: int
    status: str
    status_label: Label
    unknown_label: Label
    source_title: str
    source_url: str | None  # only http(s) links are followed
    source_text: str | None  # any other source reference, shown as text


@dataclass(frozen=True)
class FigureView:
    """A figure the film states: its sentence (the number marked), scene, check result and the fact behind it."""

    lang: str  # of the text it is stated in: "vi" or "en"
    scene_id: str
    where: str  # FILE:LINE:COL
    before: str
    text: str
    after: str
    result: str
    result_label: Label
    fact: FactView | None
    cell: str | None  # "sheet!cell" (or "file!cell" for a CSV) of an imported fact


@dataclass(frozen=True)
class ShotView:
    """A planned shot with the clips that cover it."""

    id: str
    kind: str
    kind_label: Label
    description: Label
    location: str | None
    facts: tuple[str, ...]
    covered: bool
    clips: tuple[ClipView, ...]


@dataclass(frozen=True)
class NoteView:
    """A reviewer's note taken into the ledger, as the scene shows it."""

    id: str
    reviewer: str
    verdict: str
    verdict_label: Label
    text: str
    timecode: str | None
    clip: str | None  # the clip's name
    asset_id: str | None
    written: str  # Vietnam time, dd/mm/yyyy hh:mm
    on_cut: bool = False  # taken on the film: `timecode` is the record timecode
    resolved: str | None = None  # what is under that frame of the cut: shot · clip · source timecode


@dataclass(frozen=True)
class SceneView:
    """A scene: its text, plan, state, review, shots with footage, figures and notes."""

    id: str
    theme: str
    order: int
    title: Label
    narration: Label
    planned: str
    planned_frames: int
    footage_frames: int
    proxy_frames: int
    state: str
    state_label: Label
    ready: bool
    shots: tuple[ShotView, ...]
    shots_covered: int
    other_clips: tuple[ClipView, ...]
    facts: tuple[FactView, ...]
    clip_count: int
    review: str
    review_label: Label
    notes: tuple[NoteView, ...]
    change: SceneChange | None
    clip_changes: int

    @property
    def clips(self) -> tuple[ClipView, ...]:
        """Every clip card of the scene, shot by shot, then the other footage."""
        return tuple(c for shot in self.shots for c in shot.clips) + self.other_clips


@dataclass(frozen=True)
class StateCount:
    """How many scenes of a theme are in one state (scene or review state)."""

    state: str
    label: Label
    count: int


@dataclass(frozen=True)
class ThemeView:
    """A theme with its scenes and its durations (M:SS) against the plan."""

    id: str
    order: int
    title: Label
    scenes: tuple[SceneView, ...]
    ready: int
    planned: str
    footage: str
    proxies: str
    footage_pct: int
    proxies_pct: int
    by_state: tuple[StateCount, ...]
    by_review: tuple[StateCount, ...]


@dataclass(frozen=True)
class MilestoneView:
    """A milestone with its due date and the days left on the packet's as-of date."""

    id: str
    title: Label
    due: Label | None
    due_iso: str | None
    state: str
    state_label: Label
    days: Label
    audience: Label | None
    note: Label | None


@dataclass(frozen=True)
class FilmView:
    """The film on the cover."""

    id: str
    title: Label
    subtitle: Label | None
    producer: Label
    term: str
    fps: int
    target_runtime: str
    planned_runtime: str


@dataclass(frozen=True)
class CommissionView:
    """The letter the film is made under."""

    reference: str
    dated: Label
    issuer: Label
    summary: Label


@dataclass(frozen=True)
class Totals:
    """The overview's counts and durations (M:SS)."""

    scenes: int
    ready: int
    shots: int
    shots_covered: int
    clips: int
    playable: int
    failed: int
    unassigned: int
    notes: int
    approved: int
    changes_requested: int
    planned: str
    footage: str
    proxies: str


@dataclass(frozen=True)
class ChangedClip:
    """A clip listed in the cover's summary of changes."""

    asset_id: str
    name: str
    scene_id: str | None


@dataclass(frozen=True)
class ChangesView:
    """The cover's summary of what changed since the previous packet (`first`: nothing to compare with)."""

    first: bool
    since_id: str | None
    since: str | None
    count: int
    new_scenes: tuple[SceneView, ...]
    changed_scenes: tuple[SceneView, ...]
    new_clips: tuple[ChangedClip, ...]
    updated_proxies: tuple[ChangedClip, ...]


@dataclass(frozen=True)
class PacketInfo:
    """The packet's identity, and the JSON data block its script reads (already escaped for a script element)."""

    id: str
    manifest_sha256: str
    ledger_revision: str
    data: Markup


@dataclass(frozen=True)
class HostedView:
    """When the hosted copy's links expire."""

    expires: Label
    expires_iso: str


@dataclass(frozen=True)
class PacketPage:
    """Everything the template shows; its fields are the template's top-level names."""

    film: FilmView
    commission: CommissionView
    as_of: Label
    as_of_iso: str
    generated_at: str
    milestones: tuple[MilestoneView, ...]
    primary_milestone: MilestoneView | None
    themes: tuple[ThemeView, ...]
    unassigned: tuple[ClipView, ...]
    totals: Totals
    changes: ChangesView
    packet: PacketInfo
    figures: tuple[FigureView, ...] = ()
    cut: CutView | None = None

    def template_names(self) -> dict[str, object]:
        """The fields as the template's names (one level: the records inside stay records)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

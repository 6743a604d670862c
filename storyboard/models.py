"""The storyboard schema (schema_version 1): film, milestones, themes, facts, scenes and shots.

A storyboard YAML document is a mapping with `schema_version`, `film`, `milestones`, `themes`, `facts` and
`scenes`, each scene with its `shots`; the models below name every key and what it holds. Frame counts are
at `film.fps`. Scene ids are `S01`…, shot ids `S01-01`…, and themes and facts are referred to by id.

Every model is strict, frozen and refuses unknown keys. All text is normalised to Unicode NFC on load,
because NFD Vietnamese renders with misplaced accents (drawtext, browsers) and breaks id comparisons.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from storyboard.errors import UnknownReference
from storyboard.integrity import SCENE_ID_PATTERN, SHOT_ID_PATTERN, format_loc, integrity_issues

# Pass this as validation context to skip the cross-reference checks (the loader runs them itself on the
# raw document, so that it can report them with line numbers even when other parts fail the schema).
SKIP_INTEGRITY = "storyboard_skip_integrity"


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def _iso_date(value: Any) -> Any:
    # YAML gives dates already; a quoted ISO string is accepted too. Anything else goes on to the strict
    # date validator, which rejects it with pydantic's message.
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


NFCStr = Annotated[str, AfterValidator(_nfc)]
NonEmpty = Annotated[str, Field(min_length=1), AfterValidator(_nfc)]
Day = Annotated[date, BeforeValidator(_iso_date)]


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Text(_Model):
    """Vietnamese text with its English beside it."""

    vi: NonEmpty
    en: NonEmpty


class Commission(_Model):
    """The official letter that commissions the film."""

    reference: NonEmpty = Field(description='Letter number, e.g. "1293-CV/TU".')
    dated: Day
    issuer: Text
    summary: Text


class FilmInfo(_Model):
    """Identity, commission and technical frame of the film."""

    id: NonEmpty
    title: Text
    subtitle: Text | None = None
    commission: Commission
    producer: Text
    fps: int = Field(25, gt=0, description="Frame rate of every frame count in the storyboard.")
    target_runtime_frames: int = Field(gt=0, description="Maximum running time, in frames at fps.")
    term: NonEmpty = Field(description='Party Committee term the Congress opens, e.g. "2020–2025".')


class Milestone(_Model):
    """A review or delivery date of the film."""

    id: NonEmpty
    title: Text
    due: Day | None = None
    audience: Text | None = None
    note: Text | None = None


class Theme(_Model):
    """One of the film's themes, in film order."""

    id: NonEmpty
    order: int = Field(ge=1)
    title: Text


class Source(_Model):
    """Where a figure was published."""

    title: NonEmpty
    url: NFCStr | None = Field(None, pattern=r"^https?://\S+$")


class Provenance(_Model):
    """Where in a statistics table an imported fact was read."""

    file: NonEmpty = Field(description="Name of the table file the fact was imported from.")
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] = Field(description="SHA-256 of that file.")
    sheet: NFCStr | None = Field(None, description="Sheet name (null for CSV).")
    cell: NonEmpty = Field(description='Cell holding the figure, e.g. "D7".')
    row: NonEmpty = Field(description="The row's label (the indicator).")
    column: NonEmpty = Field(description="The column's label (year and qualifier, header rows joined).")
    received: Day | None = Field(None, description="Date the table was received from the Department.")


FactStatus = Literal["target", "estimate", "preliminary", "actual"]


class Fact(_Model):
    """A figure that may appear on screen, with its year, status and source."""

    id: NonEmpty
    label: Text
    value: NonEmpty = Field(description='The figure as written, e.g. "7.53" or "13/13".')
    unit: NFCStr
    year: int = Field(ge=1900, le=2100, description="Year (or last year of the period) the figure is for.")
    status: FactStatus
    source: Source
    as_of: Day | None = Field(None, description="Date the source states the figure as of, when it gives one.")
    provenance: Provenance | None = Field(None, description="Table, sheet and cell of an imported fact.")


class SceneState(StrEnum):
    """Production state of a scene, in the order a scene moves through them."""

    planned = "planned"
    scripted = "scripted"
    shooting = "shooting"
    shot = "shot"
    editing = "editing"
    review = "review"
    approved = "approved"


ShotKind = Literal["interview", "b-roll", "archive", "graphics", "aerial"]


class Shot(_Model):
    """A shot planned within a scene."""

    id: Annotated[str, Field(pattern=SHOT_ID_PATTERN), AfterValidator(_nfc)] = Field(
        description="Scene id and a two-digit number, e.g. S01-02."
    )
    kind: ShotKind
    description: Text
    location: NFCStr | None = None
    facts: list[NFCStr] = Field(default_factory=list, description="Ids of the facts shown or spoken.")
    take: NFCStr | None = Field(
        None, description="The chosen take for the cut: an asset id (or its first characters) or a file name."
    )


class Scene(_Model):
    """A scene of the film with its narration excerpt, planned length and shots."""

    id: Annotated[str, Field(pattern=SCENE_ID_PATTERN), AfterValidator(_nfc)] = Field(
        description="S and a two-digit number in film order, e.g. S01."
    )
    theme: NonEmpty
    order: int = Field(ge=1, description="Position in the film.")
    title: Text
    narration: Text
    planned_frames: int = Field(gt=0, description="Planned length in frames at film.fps.")
    # Lax for this one field only: strict enums accept only enum members, and YAML gives strings.
    state: SceneState = Field(strict=False)
    shots: list[Shot]


class FactsFile(_Model):
    """A facts file included by a film: the facts imported from one statistics table."""

    schema_version: Literal[1]
    facts: list[Fact] = Field(default_factory=list)


class Film(_Model):
    """A whole storyboard: the top-level document of a film YAML file."""

    schema_version: Literal[1]
    film: FilmInfo
    milestones: list[Milestone]
    themes: list[Theme]
    include: list[NonEmpty] = Field(
        default_factory=list, description="Facts files (paths relative to this file) whose facts join `facts`."
    )
    facts: list[Fact] = Field(default_factory=list)
    scenes: list[Scene]

    @model_validator(mode="after")
    def _check_references(self, info: ValidationInfo) -> Self:
        if isinstance(info.context, dict) and info.context.get(SKIP_INTEGRITY):
            return self
        issues = integrity_issues(self.model_dump(mode="python"))
        if issues:
            raise ValueError("; ".join(f"{format_loc(issue.loc)}: {issue.message}" for issue in issues))
        return self

    def theme(self, theme_id: str) -> Theme:
        """The theme with this id; UnknownReference if none."""
        for theme in self.themes:
            if theme.id == theme_id:
                return theme
        raise UnknownReference(f"film {self.film.id} has no theme {theme_id!r}")

    def scenes_of(self, theme_id: str) -> list[Scene]:
        """The scenes of a theme, in film order; UnknownReference if the theme does not exist."""
        self.theme(theme_id)
        return sorted((scene for scene in self.scenes if scene.theme == theme_id), key=lambda s: s.order)

    def fact(self, fact_id: str) -> Fact:
        """The fact with this id; UnknownReference if none."""
        for fact in self.facts:
            if fact.id == fact_id:
                return fact
        raise UnknownReference(f"film {self.film.id} has no fact {fact_id!r}")

    def scene(self, scene_id: str) -> Scene | None:
        """The scene with this id, or None."""
        return next((scene for scene in self.scenes if scene.id == scene_id), None)

    def shot(self, shot_id: str) -> Shot | None:
        """The shot with this id, in whichever scene it is, or None."""
        return next((shot for scene in self.scenes for shot in scene.shots if shot.id == shot_id), None)

    @property
    def planned_frames_total(self) -> int:
        """Sum of the scenes' planned frames, at film.fps."""
        return sum(scene.planned_frames for scene in self.scenes)

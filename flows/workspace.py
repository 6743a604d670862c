"""One place that turns settings into the film, the ledger and the folders a command works with."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .settings import DocfilmSettings

if TYPE_CHECKING:
    from assets_manifest.ledger import Ledger
    from renders.profile import RenderProfile
    from storyboard.models import Film


def film_path(explicit: Path | None = None) -> Path:
    """--film, else DOCFILM_FILM, else the bundled film."""
    if explicit is not None:
        return explicit
    env = os.environ.get("DOCFILM_FILM")
    if env:
        return Path(env)
    from storyboard.loader import bundled_film_path

    return bundled_film_path()


@dataclass
class Workspace:
    """The film, ledger and data folders of one docfilm home."""

    film_file: Path
    settings: DocfilmSettings = field(default_factory=DocfilmSettings.load)

    @property
    def home(self) -> Path:
        return self.settings.home

    @cached_property
    def film(self) -> Film:
        from storyboard.loader import load_film

        return load_film(self.film_file)

    @cached_property
    def ledger(self) -> Ledger:
        from assets_manifest.ledger import Ledger

        return Ledger.open(self.settings.ledger)

    @cached_property
    def profile(self) -> RenderProfile:
        from renders.profile import RenderProfile

        return RenderProfile()

    @property
    def renders_dir(self) -> Path:
        return self.home / "renders" / self.profile.profile_hash()

    def scene_ids(self) -> set[str]:
        return {s.id for s in self.film.scenes}

    def shot_ids(self) -> set[str]:
        return {shot.id for s in self.film.scenes for shot in s.shots}

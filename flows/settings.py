"""The one settings tree of a docfilm command: read from the environment once, then passed down.

Each package keeps its own pydantic-settings class (env prefix `DOCFILM_`, every field described); this tree
nests them, so the environment names stay those of the README (`DOCFILM_FFMPEG`, `DOCFILM_S3_ENDPOINT_URL`, …).
Library functions take the part they need as an argument and never build settings themselves.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from assets_manifest.settings import LedgerSettings
from delivery.settings import S3Settings
from renders.settings import RendersSettings
from review.settings import ReviewSettings


class AppSettings(BaseSettings):
    """What the command line itself reads (env prefix DOCFILM_)."""

    model_config = SettingsConfigDict(env_prefix="DOCFILM_", extra="ignore")

    home: Path = Field(Path(".docfilm"), description="Data dir: ledger, renders, packets, embedded S3 data.")
    film: Path | None = Field(None, description="Storyboard YAML to use instead of the bundled film.")
    debug: bool = Field(False, description="Show tracebacks for known failures too (same as `docfilm --debug`).")


class DocfilmSettings(BaseModel):
    """Every setting of docfilm, per package."""

    model_config = ConfigDict(frozen=True)

    app: AppSettings
    ledger: LedgerSettings
    renders: RendersSettings
    s3: S3Settings
    review: ReviewSettings

    @classmethod
    def load(cls) -> DocfilmSettings:
        """Read the environment once (raises pydantic's ValidationError naming the variable on a bad value)."""
        return cls(app=AppSettings(), ledger=LedgerSettings(), renders=RendersSettings(), s3=S3Settings(),
                   review=ReviewSettings())

    @property
    def home(self) -> Path:
        return self.app.home.absolute()

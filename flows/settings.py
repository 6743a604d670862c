"""The one settings tree of a docfilm command: read from the environment once, then passed down.

Each package keeps its own pydantic-settings class (env prefix `DOCFILM_`, every field described); this tree
nests them, so the environment names stay those of the README (`DOCFILM_FFMPEG`, `DOCFILM_S3_ENDPOINT_URL`, …).
Library functions take the part they need as an argument and never build settings themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from assets_manifest.settings import LedgerSettings
from core.errors import BadInput
from delivery.settings import S3Settings
from editorial.settings import EditorialSettings
from farm.settings import FarmSettings
from renders.settings import RendersSettings
from review.settings import ReviewSettings

# Values of these settings may carry a password or a key: a message names the variable, never its value.
_SECRET_WORDS = ("url", "secret", "password", "key", "token")

class SettingsInvalid(BadInput):
    """A DOCFILM_* environment variable holds a value its setting cannot take."""


def env_name(settings_class: type[BaseSettings], loc: str) -> str:
    """The environment variable behind a field (or its alias) of a settings class."""
    field = settings_class.model_fields.get(loc)
    if field is None:
        return loc.upper()  # an alias is already the variable's name
    if isinstance(field.validation_alias, str):
        return field.validation_alias.upper()
    prefix = str(settings_class.model_config.get("env_prefix") or "")
    return f"{prefix}{loc}".upper()


def settings_problems(settings_class: type[BaseSettings], exc: ValidationError) -> list[str]:
    """One line per bad variable: its name, its value unless it may be secret, and what the setting needs."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = str(error["loc"][0]) if error["loc"] else "?"
        name = env_name(settings_class, loc)
        shown = "" if any(w in name.lower() for w in _SECRET_WORDS) else f"={_short(error.get('input'))}"
        problems.append(f"{name}{shown}: {error['msg'].removeprefix('Value error, ')}")
    return problems


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


class AppSettings(BaseSettings):
    """What the command line itself reads (env prefix DOCFILM_)."""

    model_config = SettingsConfigDict(env_prefix="DOCFILM_", extra="ignore")

    home: Path = Field(Path(".docfilm"), description="Data dir: ledger, renders, packets, embedded S3 data.")
    film: Path | None = Field(None, description="Storyboard YAML to use instead of the bundled film.")
    debug: bool = Field(False, description="Show tracebacks for known failures too (same as `docfilm --debug`).")
    prefect_heartbeats: bool = Field(
        True, description="off: flow runs send no Prefect flow-run heartbeats, which only a server's automations "
        "read (each run's end waits up to a second for the heartbeat thread); never sent on docfilm's own servers, "
        "and `farm local`, whose server runs no automations, writes off into its env file.")


class DocfilmSettings(BaseModel):
    """Every setting of docfilm, per package."""

    model_config = ConfigDict(frozen=True)

    app: AppSettings
    ledger: LedgerSettings
    renders: RendersSettings
    s3: S3Settings
    review: ReviewSettings
    editorial: EditorialSettings
    farm: FarmSettings

    @classmethod
    def load(cls) -> DocfilmSettings:
        """Read the environment once; SettingsInvalid (exit 2) names every variable with a bad value."""
        parts: dict[str, BaseSettings] = {}
        problems: list[str] = []
        for name, settings_class in _PARTS.items():
            try:
                parts[name] = settings_class()
            except ValidationError as exc:
                problems += settings_problems(settings_class, exc)
        if problems:
            raise SettingsInvalid("; ".join(problems) + " (fix or unset the variable; README lists every setting)")
        return cls.model_validate(parts)

    @property
    def home(self) -> Path:
        return self.app.home.absolute()


_PARTS: dict[str, type[BaseSettings]] = {"app": AppSettings, "ledger": LedgerSettings, "renders": RendersSettings,
                                         "s3": S3Settings, "review": ReviewSettings,
                                         "editorial": EditorialSettings, "farm": FarmSettings}

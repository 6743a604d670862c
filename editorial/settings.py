"""Settings of editorial (env prefix DOCFILM_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EditorialSettings(BaseSettings):
    """How docfilm assembles the string-out."""

    model_config = SettingsConfigDict(env_prefix="DOCFILM_", extra="ignore")

    title_card_seconds: float = Field(
        2.0, gt=0, le=30, description="Length of the title card that opens each scene of the string-out, in seconds."
    )

"""Settings of the renders package: the ffmpeg binary, the burnt-in font and the QC rules."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RendersSettings(BaseSettings):
    """Settings of the renders package (environment variables DOCFILM_*)."""

    model_config = SettingsConfigDict(env_prefix="DOCFILM_", extra="ignore")

    ffmpeg: str | None = Field(
        default=None,
        description="ffmpeg binary to use (path or name on PATH); default: the one shipped by imageio-ffmpeg.",
    )
    font_file: Path | None = Field(
        default=None,
        description="TrueType/OpenType font for burnt-in text; must cover Vietnamese. Default: searched.",
    )
    qc_loudness_target_lufs: float = Field(
        default=-23.0, description="Integrated loudness target in LUFS (QCVN 115:2017/BTTTT: -23 LUFS)."
    )
    qc_loudness_tolerance_lu: float = Field(
        default=1.0, ge=0, description="Allowed distance from the loudness target in LU before a clip is flagged."
    )
    qc_true_peak_max_dbtp: float = Field(
        default=-1.0, description="Highest allowed true peak in dBTP (QCVN 115:2017/BTTTT: -1 dBTP)."
    )
    qc_black_max_seconds: float = Field(
        default=2.0, gt=0, description="A black run longer than this many seconds is flagged."
    )
    qc_frozen_max_seconds: float = Field(
        default=2.0, gt=0, description="A frozen-picture run longer than this many seconds is flagged."
    )
    qc_silence_max_seconds: float = Field(
        default=10.0, gt=0, description="A silent run longer than this many seconds is flagged."
    )

"""The render profile: every setting that changes a proxy's pixels or sound, and its hash for staleness."""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Bump whenever the graph builders change the output for an unchanged profile (filters, their order,
# burnt-in layout, QC measurements): it is part of profile_hash, so every proxy made by older code is stale.
RENDERER_VERSION = "renders-2"


class QcProfile(BaseModel):
    """How the QC detectors measure (part of the profile: changing them changes the measurements).

    The thresholds that turn measurements into flags are settings (renders.settings.RendersSettings), not
    part of the profile, so tightening a rule never re-renders anything.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="Measure black, frozen and silent runs and loudness.")
    video_width: int = Field(
        default=320, gt=0, le=1920, description="Width of the downscaled picture the video detectors see."
    )
    video_height: int = Field(default=180, gt=0, le=1080, description="Height of the detectors' picture.")
    black_min_seconds: float = Field(default=0.5, gt=0, description="Shortest black run recorded.")
    black_pixel_threshold: float = Field(
        default=0.10, ge=0, le=1, description="blackdetect pix_th: luma below this share of the range is black."
    )
    black_picture_ratio: float = Field(
        default=0.98, gt=0, le=1, description="blackdetect pic_th: share of black pixels that makes a black frame."
    )
    freeze_noise_db: float = Field(default=-60.0, lt=0, description="freezedetect noise tolerance in dB.")
    freeze_min_seconds: float = Field(default=1.0, gt=0, description="Shortest frozen run recorded.")
    silence_noise_db: float = Field(default=-60.0, lt=0, description="silencedetect level below which is silence.")
    silence_min_seconds: float = Field(default=1.0, gt=0, description="Shortest silent run recorded.")


class RenderProfile(BaseModel):
    """How review proxies and posters are made; frozen so its hash cannot drift after use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="review", description="Profile name, shown in proxy metadata.")
    width: int = Field(default=960, gt=0, le=7680, description="Proxy frame width (even); picture fits inside.")
    height: int = Field(default=540, gt=0, le=4320, description="Proxy frame height (even).")
    video_codec: str = Field(default="libx264", description="ffmpeg video encoder.")
    preset: str = Field(default="veryfast", description="x264 preset.")
    crf: int = Field(default=26, ge=0, le=51, description="x264 constant rate factor.")
    x264_params: str = Field(
        default="me=dia:subme=1",
        pattern=r"^[A-Za-z0-9_.=:,-]*$",
        description="Extra x264 options (-x264-params; empty: the preset's own). The default, measured on the "
        "bench clips at 960x540: 20-30 % less x264 CPU than veryfast's hex search and subme 2, SSIM and PSNR the "
        "same (within 0.0003 and 0.1 dB), files 8-10 % larger.",
    )
    gop_seconds: float = Field(
        default=1.0, gt=0, le=10, description="Longest GOP in seconds of source frames (short for scrubbing)."
    )
    pix_fmt: str = Field(default="yuv420p", description="Output pixel format (browsers need yuv420p).")
    h264_profile: str = Field(default="high", description="H.264 profile.")
    audio_codec: str = Field(default="aac", description="ffmpeg audio encoder.")
    audio_bitrate: str = Field(default="128k", description="Audio bit rate.")
    audio_rate: int = Field(default=48000, gt=0, description="Audio sample rate in Hz.")
    audio_channels: int = Field(default=2, ge=1, le=8, description="Audio channels (first source stream, mixed).")
    burn_timecode: bool = Field(default=True, description="Burn the source timecode into the picture.")
    burn_name: bool = Field(default=True, description="Burn the clip's display name into the picture.")
    watermark_text: str | None = Field(
        default=None,
        max_length=80,
        description="Text burnt translucent across the middle of every proxy picture (None: no watermark).",
    )
    watermark_opacity: float = Field(default=0.3, gt=0, le=1, description="Opacity of the watermark text.")
    scale_flags: str = Field(default="bicubic", description="swscale algorithm (never fast_bilinear).")
    deinterlace_filter: Literal["bwdif", "yadif"] = Field(
        default="bwdif", description="Deinterlacer for interlaced sources (one frame per frame, not per field)."
    )
    poster_width: int = Field(default=480, gt=0, le=3840, description="Poster JPEG width (even).")
    poster_quality: int = Field(default=3, ge=2, le=31, description="Poster JPEG quantiser (-q:v, 2 = best).")
    contact_sheet: bool = Field(default=True, description="Make a contact sheet JPEG of frames evenly spaced.")
    contact_sheet_columns: int = Field(default=4, ge=1, le=10, description="Contact sheet columns.")
    contact_sheet_rows: int = Field(default=4, ge=1, le=10, description="Contact sheet rows.")
    contact_sheet_width: int = Field(
        default=960, gt=0, le=3840, description="Contact sheet JPEG width (cells are the proxy frame's shape)."
    )
    audio_tracks: Literal["first", "mix"] = Field(
        default="first",
        description="Which source audio the proxy carries and QC measures: the first usable track, or all "
        "usable tracks summed (amix, no level normalisation).",
    )
    tone_map: Literal["mobius", "hable", "reinhard", "clip"] = Field(
        default="mobius",
        description="Tone curve for HDR (PQ, HLG) sources mapped to SDR BT.709; mobius keeps mid-tones as shot.",
    )
    qc: QcProfile = Field(default_factory=QcProfile, description="How the QC detectors measure.")

    @field_validator("width", "height", "poster_width", "contact_sheet_width")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError(f"must be even for 4:2:0 video, got {value}")
        return value

    @field_validator("scale_flags")
    @classmethod
    def _no_fast_bilinear(cls, value: str) -> str:
        # Measured: fast_bilinear drops SSIM from 0.99 to 0.95 for no real speed gain.
        if "fast_bilinear" in value:
            raise ValueError("fast_bilinear visibly degrades proxies; use bicubic, lanczos, area or bilinear")
        return value

    @field_validator("watermark_text")
    @classmethod
    def _nfc(cls, value: str | None) -> str | None:
        return unicodedata.normalize("NFC", value) if value else None

    @model_validator(mode="after")
    def _cells_fit(self) -> RenderProfile:
        if self.contact_sheet_width // self.contact_sheet_columns < 16:
            raise ValueError(
                f"contact sheet cells would be {self.contact_sheet_width // self.contact_sheet_columns} px wide; "
                "widen contact_sheet_width or use fewer columns"
            )
        return self

    def profile_hash(self) -> str:
        """First 16 hex digits of the SHA-256 of the canonical JSON of this profile and RENDERER_VERSION."""
        canonical = json.dumps(
            {"profile": self.model_dump(mode="json"), "renderer": RENDERER_VERSION},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def gop_frames(self, fps: Fraction) -> int:
        """Longest GOP in frames at the source rate: never more than gop_seconds, at least 1."""
        return max(1, math.floor(fps * Fraction(str(self.gop_seconds))))

    @property
    def poster_height(self) -> int:
        """Poster height: the proxy frame's aspect at poster_width, rounded to even."""
        return max(2, 2 * round(self.poster_width * self.height / self.width / 2))

    @property
    def contact_sheet_cells(self) -> int:
        """Frames on a contact sheet."""
        return self.contact_sheet_columns * self.contact_sheet_rows

    @property
    def contact_cell_size(self) -> tuple[int, int]:
        """(width, height) of one contact sheet cell: the proxy frame's shape."""
        cell_w = self.contact_sheet_width // self.contact_sheet_columns
        return cell_w, max(2, round(cell_w * self.height / self.width))

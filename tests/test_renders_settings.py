"""The render profile (validation, hash) and the tool lookup (ffmpeg binary, font)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pydantic
import pytest

import renders.profile
import renders.tools
from core.errors import DocfilmError, EnvironmentProblem
from renders.errors import (
    FfmpegFailed,
    FfmpegMissing,
    FontMissing,
    InvalidSource,
    RenderError,
    RenderTimeout,
    UnsupportedKind,
)
from renders.profile import QcProfile, RenderProfile
from renders.settings import RendersSettings
from renders.tools import ffmpeg_exe, font_file


def test_profile_defaults_are_the_review_proxy() -> None:
    profile = RenderProfile()
    assert (profile.name, profile.width, profile.height) == ("review", 960, 540)
    assert (profile.video_codec, profile.preset, profile.crf, profile.gop_seconds) == ("libx264", "veryfast", 26, 1)
    assert profile.x264_params == "me=dia:subme=1"
    assert (profile.pix_fmt, profile.h264_profile) == ("yuv420p", "high")
    assert (profile.audio_codec, profile.audio_bitrate, profile.audio_rate) == ("aac", "128k", 48000)
    assert profile.burn_timecode and profile.burn_name
    assert (profile.scale_flags, profile.deinterlace_filter) == ("bicubic", "bwdif")
    assert (profile.poster_width, profile.poster_height) == (480, 270)


def test_profile_hash_is_pinned() -> None:
    # Changing this value re-renders every proxy: update it only on purpose (defaults or RENDERER_VERSION).
    assert RenderProfile().profile_hash() == "b9bcaea7a31fd4fe"


def test_profile_hash_follows_settings_and_renderer_version(monkeypatch: pytest.MonkeyPatch) -> None:
    base = RenderProfile().profile_hash()
    assert re.fullmatch(r"[0-9a-f]{16}", base)
    assert RenderProfile().profile_hash() == base
    assert RenderProfile(crf=23).profile_hash() != base
    assert RenderProfile(burn_name=False).profile_hash() != base
    assert RenderProfile(watermark_text="BẢN DUYỆT").profile_hash() != base
    assert RenderProfile(qc=QcProfile(black_min_seconds=1)).profile_hash() != base
    assert RenderProfile(audio_tracks="mix").profile_hash() != base
    monkeypatch.setattr(renders.profile, "RENDERER_VERSION", "renders-test")
    assert RenderProfile().profile_hash() != base


def test_profile_is_frozen_and_strict() -> None:
    profile = RenderProfile()
    with pytest.raises(pydantic.ValidationError):
        profile.crf = 18
    with pytest.raises(pydantic.ValidationError):
        RenderProfile(crff=18)  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError, match="even"):
        RenderProfile(width=961)
    with pytest.raises(pydantic.ValidationError, match="fast_bilinear"):
        RenderProfile(scale_flags="fast_bilinear")
    with pytest.raises(pydantic.ValidationError):
        RenderProfile(deinterlace_filter="kerndeint")  # type: ignore[arg-type]
    with pytest.raises(pydantic.ValidationError, match="contact sheet cells"):
        RenderProfile(contact_sheet_width=64, contact_sheet_columns=8)
    with pytest.raises(pydantic.ValidationError):
        RenderProfile(qc=QcProfile(freeze_noise_db=3))


def test_contact_sheet_and_watermark_settings() -> None:
    profile = RenderProfile()
    assert (profile.contact_sheet_cells, profile.contact_cell_size) == (16, (240, 135))
    assert RenderProfile(contact_sheet_columns=5, contact_sheet_rows=3).contact_cell_size == (192, 108)
    nfd = "BẢN DUYỆT"
    assert RenderProfile(watermark_text=nfd).watermark_text == "BẢN DUYỆT"  # stored NFC
    assert RenderProfile(watermark_text="").watermark_text is None


def test_qc_rule_settings_default_to_qcvn_115() -> None:
    settings = RendersSettings()
    assert (settings.qc_loudness_target_lufs, settings.qc_true_peak_max_dbtp) == (-23.0, -1.0)
    assert settings.qc_loudness_tolerance_lu == 1.0


def test_ffmpeg_defaults_to_the_imageio_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCFILM_FFMPEG", raising=False)
    exe = ffmpeg_exe(RendersSettings())
    assert os.access(exe, os.X_OK)
    assert "imageio_ffmpeg" in exe


def test_ffmpeg_override_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DOCFILM_FFMPEG", raising=False)
    real = ffmpeg_exe(RendersSettings())
    monkeypatch.setenv("DOCFILM_FFMPEG", real)
    assert ffmpeg_exe(RendersSettings()) == real
    monkeypatch.setenv("DOCFILM_FFMPEG", str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(FfmpegMissing, match="DOCFILM_FFMPEG='.*no-such-ffmpeg'.*point it at an ffmpeg") as missing:
        ffmpeg_exe(RendersSettings())
    assert missing.value.exit_code == 3 and isinstance(missing.value, EnvironmentProblem)


def test_font_is_found_and_can_be_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DOCFILM_FONT_FILE", raising=False)
    assert font_file(RendersSettings()).is_file()
    custom = tmp_path / "Custom.ttf"
    custom.write_bytes(b"not really a font, but a file")
    monkeypatch.setenv("DOCFILM_FONT_FILE", str(custom))
    assert font_file(RendersSettings()) == custom
    monkeypatch.setenv("DOCFILM_FONT_FILE", str(tmp_path / "missing.ttf"))
    with pytest.raises(FontMissing, match="DOCFILM_FONT_FILE='.*missing.ttf'.*point it at") as missing:
        font_file(RendersSettings())
    assert missing.value.exit_code == 3 and isinstance(missing.value, EnvironmentProblem)


def test_missing_font_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(renders.tools, "FONT_ROOTS", (tmp_path,))
    monkeypatch.setattr(renders.tools, "_fc_match_font", lambda: None)
    with pytest.raises(FontMissing, match="fonts-dejavu-core"):
        font_file(RendersSettings(font_file=None))


def test_render_errors_carry_their_exit_codes() -> None:
    assert issubclass(RenderError, DocfilmError) and RenderError.exit_code == 1  # one clip failed; others go on
    assert InvalidSource.exit_code == 2 and UnsupportedKind.exit_code == 2
    assert FfmpegFailed("clip", 1, "").exit_code == 1 and RenderTimeout("clip", 1).exit_code == 1


def test_every_setting_is_described() -> None:
    for name, field in RendersSettings.model_fields.items():
        assert field.description, name
    for name, field in RenderProfile.model_fields.items():
        assert field.description, name
    for name, field in QcProfile.model_fields.items():
        assert field.description, name


def test_x264_params_take_only_option_characters() -> None:
    assert RenderProfile(x264_params="").x264_params == ""
    with pytest.raises(pydantic.ValidationError):
        RenderProfile(x264_params="me=dia -f null")

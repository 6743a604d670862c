"""Text burnt into proxies: the clip's name, its running source timecode and the watermark (drawtext)."""

from __future__ import annotations

import unicodedata
from fractions import Fraction
from pathlib import Path
from typing import Any

from core.timecode import rate_text
from renders.profile import RenderProfile
from renders.source import ProxySource

NAME_MAX_CHARS = 64


def drawtext_safe(text: str, max_chars: int = NAME_MAX_CHARS) -> str:
    """Text as drawtext should show it: NFC, control characters as spaces, one line, ellipsised if long."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def _boxed(fontsize: int) -> dict[str, Any]:
    """White text on a translucent black box, its border scaled with the text: the look of every burn-in label."""
    return {"fontcolor": "white", "box": 1, "boxcolor": "black@0.55", "boxborderw": max(2, fontsize // 4)}


def _literal_text(stream: Any, text: str, font: Path, fontsize: int, **style: Any) -> Any:
    """drawtext of `text` exactly as given (made safe, no %{…} expansion), styled by `style`.

    ffmpeg-python escapes the value for the two filtergraph levels (quotes, colons, backslashes, commas,
    brackets, semicolons); `expansion=none` removes drawtext's own third level, so `%` and `\\` stay literal.
    `ffmpeg.drawtext` is not used because it adds that third escaping level regardless of `expansion`.
    """
    return stream.filter("drawtext", text=drawtext_safe(text), expansion="none", fontfile=str(font),
                         fontsize=fontsize, **style)


def burn_text(stream: Any, text: str, font: Path, *, x: str, y: str, fontsize: int) -> Any:
    """Draw `text` literally in white on a translucent box."""
    return _literal_text(stream, text, font, fontsize, **_boxed(fontsize), x=x, y=y)


def burn_watermark(stream: Any, text: str, font: Path, *, fontsize: int, opacity: float) -> Any:
    """Translucent text across the middle of the picture, no box, so the picture stays readable under it."""
    return _literal_text(
        stream, text, font, fontsize, fontcolor=f"white@{opacity:g}", borderw=max(1, fontsize // 24),
        bordercolor=f"black@{opacity:g}", x="(w-text_w)/2", y="(h-text_h)/2",
    )


def burn_running_timecode(stream: Any, timecode: str, rate: Fraction, font: Path, *, fontsize: int, x: str,
                          y: str) -> Any:
    """Timecode counting from `timecode` at `rate`, one frame a frame, boxed like every label, at (x, y)."""
    return stream.filter("drawtext", timecode=timecode, timecode_rate=rate_text(rate), fontfile=str(font),
                         fontsize=fontsize, **_boxed(fontsize), x=x, y=y)


def burn_timecode(stream: Any, timecode: str, rate: Fraction, font: Path, *, fontsize: int, margin: int) -> Any:
    """Running timecode from `timecode` at `rate`, centred at the bottom."""
    return burn_running_timecode(stream, timecode, rate, font, fontsize=fontsize, x="(w-text_w)/2",
                                 y=f"h-text_h-{margin}")


def text_sizes(profile: RenderProfile) -> tuple[int, int]:
    """(font size, margin) of burnt-in text for the profile frame."""
    return max(12, round(profile.height * 0.045)), max(4, round(profile.height * 0.03))


def burn_ins(stream: Any, src: ProxySource, profile: RenderProfile, font: Path | None, *, timecode: bool) -> Any:
    """The profile's burn-ins: name top left, running source timecode bottom centre, watermark across."""
    fontsize, margin = text_sizes(profile)
    if font is None:
        return stream
    if profile.burn_name:
        stream = burn_text(stream, src.display_name, font, x=str(margin), y=str(margin), fontsize=fontsize)
    if profile.burn_timecode and timecode:
        stream = burn_timecode(stream, src.timecode, src.timecode_rate, font, fontsize=fontsize, margin=margin)
    if profile.watermark_text:
        stream = burn_watermark(
            stream, profile.watermark_text, font, fontsize=max(16, profile.height // 8),
            opacity=profile.watermark_opacity,
        )  # fmt: skip
    return stream


def needs_font(profile: RenderProfile) -> bool:
    return profile.burn_name or profile.burn_timecode or bool(profile.watermark_text)

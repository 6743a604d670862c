"""The external tools renders needs: the ffmpeg binary and a font for burnt-in text."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import imageio_ffmpeg

from renders.errors import FfmpegMissing, FontMissing
from renders.settings import RendersSettings

log = logging.getLogger(__name__)

# Fonts known to cover Vietnamese (Latin Extended Additional), relative to the font roots below, in order
# of preference. Debian packages: fonts-dejavu-core, fonts-noto-core, fonts-liberation2 / fonts-liberation.
FONT_CANDIDATES: tuple[str, ...] = (
    "truetype/dejavu/DejaVuSans.ttf",
    "truetype/noto/NotoSans-Regular.ttf",
    "opentype/noto/NotoSans-Regular.ttf",
    "truetype/liberation2/LiberationSans-Regular.ttf",
    "truetype/liberation/LiberationSans-Regular.ttf",
)
FONT_ROOTS: tuple[Path, ...] = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local/share/fonts",
    Path.home() / ".fonts",
)
FONT_PACKAGE = "fonts-dejavu-core"


def ffmpeg_exe(settings: RendersSettings) -> str:
    """Path of the ffmpeg binary: DOCFILM_FFMPEG if set, else the one shipped by imageio-ffmpeg."""
    if settings.ffmpeg:
        # which() accepts both a bare name (PATH lookup) and a path, and checks it is executable.
        found = shutil.which(settings.ffmpeg)
        if found is None:
            raise FfmpegMissing(
                f"DOCFILM_FFMPEG={settings.ffmpeg!r} is not an executable ffmpeg; "
                "point it at an ffmpeg binary or unset it to use imageio-ffmpeg's"
            )
        return found
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise FfmpegMissing(
            f"imageio-ffmpeg has no ffmpeg binary for this platform ({exc}); install ffmpeg and set "
            "DOCFILM_FFMPEG to its path"
        ) from exc


def _fc_match_font() -> Path | None:
    """Ask fontconfig for a sans font covering Vietnamese, when fc-match is installed."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        done = subprocess.run([fc_match, "-f", "%{file}", "sans:lang=vi"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("fc-match failed: %s", exc)
        return None
    candidate = Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None
    return candidate if candidate is not None and candidate.is_file() else None


def font_file(settings: RendersSettings) -> Path:
    """Font for burnt-in text: DOCFILM_FONT_FILE, else a known Vietnamese-capable font, else fc-match."""
    if settings.font_file is not None:
        if not settings.font_file.is_file():
            raise FontMissing(
                f"DOCFILM_FONT_FILE={str(settings.font_file)!r} is not a font file; point it at a .ttf or .otf "
                "file with Vietnamese glyphs, or unset it to use a font found on this machine"
            )
        return settings.font_file
    for root in FONT_ROOTS:
        for relative in FONT_CANDIDATES:
            candidate = root / relative
            if candidate.is_file():
                return candidate
    found = _fc_match_font()
    if found is not None:
        return found
    raise FontMissing(
        "no font for burnt-in text (needs Vietnamese glyphs): install the Debian package "
        f"{FONT_PACKAGE} (apt-get install {FONT_PACKAGE}) or set DOCFILM_FONT_FILE to a .ttf file"
    )

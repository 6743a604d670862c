"""Errors of renders: one base class, one subclass per failure mode, each with the CLI's exit code.

A failure of one clip (ffmpeg failed, timed out, a proxy not as promised) is recorded against that clip and
the run goes on (exit 1 at the end); a missing tool stops the command (exit 3); an inconsistent source
record is bad input (exit 2).
"""

from __future__ import annotations

from core.errors import BadInput, DocfilmError, EnvironmentProblem


class RenderError(DocfilmError):
    """Base error of renders."""


class FfmpegMissing(RenderError, EnvironmentProblem):
    """No usable ffmpeg binary (DOCFILM_FFMPEG or imageio-ffmpeg's)."""


class FontMissing(RenderError, EnvironmentProblem):
    """No font file for burnt-in text (DOCFILM_FONT_FILE or a searched font)."""


class InvalidSource(RenderError, BadInput):
    """A render source record is inconsistent (bad rate, timecode, kind or id)."""


class UnsupportedKind(RenderError, BadInput):
    """An asset kind renders has no proxy for."""


class FfmpegFailed(RenderError):
    """ffmpeg exited with an error or did not write what it was asked to."""

    def __init__(self, label: str, returncode: int, stderr_tail: str, reason: str | None = None) -> None:
        self.label = label
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        head = reason or f"ffmpeg failed on {label} (exit status {returncode})"
        tail = "\n".join("  " + line for line in stderr_tail.splitlines())
        super().__init__(f"{head}:\n{tail}" if tail else head)


class RenderTimeout(RenderError):
    """ffmpeg ran longer than its time limit and was killed."""

    def __init__(self, label: str, timeout_s: float) -> None:
        self.label = label
        self.timeout_s = timeout_s
        super().__init__(f"ffmpeg on {label} ran longer than {timeout_s:g} s and was killed")


class RenderBusy(RenderError):
    """Another render of the same outputs is running (or the orphaned ffmpeg of a killed one)."""

    def __init__(self, label: str) -> None:
        self.label = label
        super().__init__(
            f"{label} is being rendered by another process (or a killed render's ffmpeg is still finishing); "
            "left for the next run"
        )


class ProxyCheckFailed(RenderError):
    """A freshly rendered proxy is not what the profile promises (size, rotation, frames)."""


class QcUnreadable(RenderError):
    """ffmpeg finished but its QC measurements are missing or malformed."""

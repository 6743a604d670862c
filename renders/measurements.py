"""What the QC detectors measured in one render: black, frozen and silent runs and EBU R128 loudness.

These are the records renders.qc reads the detectors' files into and the QC record stores (as JSON, keys
unchanged). A run counts frames from the clip's first frame at `rate` (the proxy's constant
rate); `end_frame` is exclusive (the first frame after the run), like an editor's out point. `start`/`end`
are the source timecodes of those frames (as burnt into the proxy), `duration` a non-drop timecode length;
all three are None at rates timecode does not exist for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from core.jsontypes import JsonObject


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a number, got {value!r}")
    return int(value)


def _float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _optional_float(value: object) -> float | None:
    return None if value is None else _float(value)


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class QcRun:
    """A run of frames [start_frame, end_frame) at `rate`, with the source timecodes of its ends."""

    start_frame: int
    end_frame: int
    rate: Fraction
    start: str | None = None
    end: str | None = None
    duration: str | None = None

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def seconds(self) -> Fraction:
        return Fraction(self.frames) / self.rate

    def to_json(self) -> JsonObject:
        return {
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "frames": self.frames,
            "rate": f"{self.rate.numerator}/{self.rate.denominator}",
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> QcRun:
        return cls(
            start_frame=_int(data["start_frame"]),
            end_frame=_int(data["end_frame"]),
            rate=Fraction(str(data["rate"])),
            start=_optional_str(data.get("start")),
            end=_optional_str(data.get("end")),
            duration=_optional_str(data.get("duration")),
        )


@dataclass(frozen=True)
class Loudness:
    """EBU R128 totals: integrated loudness, loudness range, true peak (ITU-R BS.1770; None for digital silence).

    A silent track measures -70 LUFS, ebur128's absolute gate.
    """

    integrated_lufs: float
    range_lu: float
    true_peak_dbtp: float | None

    def to_json(self) -> JsonObject:
        return {
            "integrated_lufs": self.integrated_lufs,
            "range_lu": self.range_lu,
            "true_peak_dbtp": self.true_peak_dbtp,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Loudness:
        return cls(
            integrated_lufs=_float(data["integrated_lufs"]),
            range_lu=_float(data["range_lu"]),
            true_peak_dbtp=_optional_float(data.get("true_peak_dbtp")),
        )


def _runs(value: object) -> tuple[QcRun, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(QcRun.from_json(run) for run in value if isinstance(run, Mapping))


@dataclass(frozen=True)
class Measurements:
    """Everything the detectors of one render measured (empty for a still or when QC is off)."""

    black: tuple[QcRun, ...] = ()
    frozen: tuple[QcRun, ...] = ()
    silent: tuple[QcRun, ...] = ()
    loudness: Loudness | None = None

    def to_json(self) -> JsonObject:
        return {
            "black": [run.to_json() for run in self.black],
            "frozen": [run.to_json() for run in self.frozen],
            "silent": [run.to_json() for run in self.silent],
            "loudness": self.loudness.to_json() if self.loudness is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Measurements:
        """The measurements of a stored QC record (its other keys are ignored)."""
        level = data.get("loudness")
        return cls(
            black=_runs(data.get("black")),
            frozen=_runs(data.get("frozen")),
            silent=_runs(data.get("silent")),
            loudness=Loudness.from_json(level) if isinstance(level, Mapping) else None,
        )

"""QC flags: the measurements of a render held against the broadcast rules (QCVN 115:2017 and the film's limits).

A flag is a record (rule, value, limit and, for runs, where): words for people are made from it by
review.labels, never here. The rules are settings, not part of the render profile, so tightening one never
re-renders anything and flags can be recomputed from a stored QC record with `qc_flags`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import cast

from core.jsontypes import JsonObject
from core.vocabulary import QC_RULES, QcRule
from renders.measurements import Measurements, QcRun
from renders.settings import RendersSettings


@dataclass(frozen=True)
class QcRules:
    """Broadcast rules the measurements are flagged against."""

    loudness_target_lufs: float = -23.0
    loudness_tolerance_lu: float = 1.0
    true_peak_max_dbtp: float = -1.0
    black_max_seconds: float = 2.0
    frozen_max_seconds: float = 2.0
    silence_max_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: RendersSettings) -> QcRules:
        return cls(
            loudness_target_lufs=settings.qc_loudness_target_lufs,
            loudness_tolerance_lu=settings.qc_loudness_tolerance_lu,
            true_peak_max_dbtp=settings.qc_true_peak_max_dbtp,
            black_max_seconds=settings.qc_black_max_seconds,
            frozen_max_seconds=settings.qc_frozen_max_seconds,
            silence_max_seconds=settings.qc_silence_max_seconds,
        )

    def to_json(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class QcFlag:
    """One broken rule. `value` is what was measured and `limit` the bound it crossed, in the rule's unit:
    seconds for black, frozen and silent runs; LUFS for loudness (target ± tolerance, the side crossed);
    dBTP for true peak. A run's flag says where: frames from the clip's first frame (end exclusive) and the
    source timecodes of those frames (None at rates without timecode); loudness and true peak hold for the
    whole clip and have no place.
    """

    rule: QcRule
    value: float
    limit: float
    start_frame: int | None = None
    end_frame: int | None = None
    start: str | None = None
    end: str | None = None

    def to_json(self) -> JsonObject:
        return {
            "rule": self.rule,
            "value": self.value,
            "limit": self.limit,
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "start": self.start,
            "end": self.end,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> QcFlag:
        """A stored flag; raises ValueError for one that is not this record (e.g. an older flag stored as text)."""
        rule = data.get("rule")
        if rule not in QC_RULES:
            raise ValueError(f"unknown QC rule {rule!r}")
        try:
            return cls(
                rule=cast(QcRule, rule),
                value=float(cast(float, data["value"])),
                limit=float(cast(float, data["limit"])),
                start_frame=_optional_int(data.get("start_frame")),
                end_frame=_optional_int(data.get("end_frame")),
                start=_optional_str(data.get("start")),
                end=_optional_str(data.get("end")),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"QC flag without {exc}: {dict(data)!r}") from exc


def _optional_int(value: object) -> int | None:
    return None if value is None else int(cast(int, value))


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _run_flag(rule: QcRule, run: QcRun, limit: float) -> QcFlag:
    return QcFlag(
        rule=rule,
        value=round(float(run.seconds), 3),
        limit=limit,
        start_frame=run.start_frame,
        end_frame=run.end_frame,
        start=run.start,
        end=run.end,
    )


def qc_flags(measured: Measurements, rules: QcRules) -> tuple[QcFlag, ...]:
    """Flags for `measured` under `rules`: loudness, true peak, then black, frozen and silent runs in order."""
    flags: list[QcFlag] = []
    level = measured.loudness
    if level is not None:
        integrated = level.integrated_lufs
        target, tolerance = rules.loudness_target_lufs, rules.loudness_tolerance_lu
        if abs(integrated - target) > tolerance:
            bound = target + tolerance if integrated > target else target - tolerance
            flags.append(QcFlag(rule="loudness", value=integrated, limit=bound))
        peak = level.true_peak_dbtp
        if peak is not None and peak > rules.true_peak_max_dbtp:
            flags.append(QcFlag(rule="true_peak", value=peak, limit=rules.true_peak_max_dbtp))
    runs: tuple[tuple[QcRule, tuple[QcRun, ...], float], ...] = (
        ("black", measured.black, rules.black_max_seconds),
        ("frozen", measured.frozen, rules.frozen_max_seconds),
        ("silent", measured.silent, rules.silence_max_seconds),
    )
    for rule, found, limit in runs:
        # Compared as exact fractions: a run of exactly the limit is allowed.
        flags += [_run_flag(rule, run, limit) for run in found if run.seconds > Fraction(str(limit))]
    return tuple(flags)

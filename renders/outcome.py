"""What a render leaves: the ProxyResult, its QC record (measurements, flags, run facts) and the lock path."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renders.picture import contact_sheet_frames
from renders.profile import RenderProfile
from renders.qc import QcFiles, QcRules, measure, qc_flags
from renders.runner import RunResult
from renders.source import ProxySource

log = logging.getLogger(__name__)


@dataclass
class ProxyResult:
    """A rendered proxy, its poster and contact sheet, with facts and QC measured on the same run."""

    asset_id: str
    proxy: Path
    poster: Path
    qc: dict[str, Any] = field(default_factory=dict)
    contact_sheet: Path | None = None


def contact_sheet_record(src: ProxySource, profile: RenderProfile, sheet: Path, frames_out: int) -> dict[str, Any]:
    """What the contact sheet shows, cell by cell (left to right, top to bottom)."""
    frames = [n for n in contact_sheet_frames(src, profile.contact_sheet_cells) if n < max(1, frames_out)]
    cell_w, cell_h = profile.contact_cell_size
    return {
        "contact_sheet": str(sheet),
        "contact_sheet_layout": {
            "columns": profile.contact_sheet_columns,
            "rows": profile.contact_sheet_rows,
            "cell_width": cell_w,
            "cell_height": cell_h,
        },
        "contact_sheet_cells": [{"frame": n, "timecode": src.clock.at(n)} for n in frames],
    }


def finish_qc(
    qc: dict[str, Any],
    files: QcFiles | None,
    src: ProxySource,
    profile: RenderProfile,
    frames: int,
    rules: QcRules,
) -> dict[str, Any]:
    """Add the measurements, flags and rules of one finished run to its QC record."""
    if files is not None:
        qc.update(measure(files, src.proxy_fps, frames, src.clock, profile.qc))
    else:
        qc.update({"black": [], "frozen": [], "silent": [], "loudness": None})
    qc["rules"] = rules.to_json()
    qc["flags"] = qc_flags(qc, rules)
    return qc


def lock_path(out_dir: Path, src: ProxySource) -> Path:
    """The lock a render of `src` holds while it writes into `out_dir` (see renders.runner.output_lock)."""
    return out_dir / f".{src.asset_id}.lock"


def run_record(
    qc: dict[str, Any], src: ProxySource, profile: RenderProfile, result: RunResult, *, hdr: bool = False
) -> dict[str, Any]:
    """The run's own facts added to a QC record: decode errors, timing, profile, what was converted."""
    errors = result.stderr_lines
    if errors:
        log.warning(
            "%s: ffmpeg reported %d error line(s) while rendering, first: %s", src.asset_id, len(errors), errors[0]
        )
    qc.update(
        {
            "decode_errors": errors[:20],
            "decode_error_count": len(errors),
            "source_duration_frames": src.duration_frames,
            "render_seconds": round(result.elapsed_s, 3),
            "profile_hash": profile.profile_hash(),
            "tone_mapped_from": src.color_transfer if hdr else None,
            "audio_streams": list(src.audio_streams) if src.has_audio else [],
            "audio_tracks": profile.audio_tracks,
        }
    )
    return qc

"""What a render leaves: the ProxyResult and its QC record (facts read back, measurements, flags, run facts).

The QC record is stored by the ledger as JSON (Proxy.qc) through `QcRecord.to_json`, with the keys the QC
dicts had before it was a record, plus a few: `flags` are records ({"rule", "value", "limit", "start_frame",
"end_frame", "start", "end"}) instead of bilingual messages (review.labels words them), and every kind
writes every key (None where a kind has no such fact). Migration: none needed. Flags stored before carry a
"message" and no "value"; readers show those as they are (review.packet.qc_flags, review.labels.qc_flag_text),
and the next render of that proxy (a new profile or `render --all`) writes the new form. The pixels did not
change, so RENDERER_VERSION did not either: nothing is re-rendered for this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from core.jsontypes import JsonObject
from core.vocabulary import MediaKind
from renders.flags import QcFlag, QcRules, qc_flags
from renders.measurements import Measurements
from renders.picture import contact_sheet_frames
from renders.profile import RenderProfile
from renders.runner import RunResult
from renders.source import ProxySource

log = logging.getLogger(__name__)

DECODE_ERRORS_KEPT = 20


@dataclass(frozen=True)
class AudioFacts:
    """The audio of a rendered proxy as read back."""

    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class PosterFacts:
    """The poster as read back: its size and the proxy frame it shows (None for an audio waveform)."""

    width: int
    height: int
    frame: int | None
    waveform: bool = False


@dataclass(frozen=True)
class OutputFacts:
    """What the rendered proxy is, read back before it is committed (None where the kind has no such fact)."""

    duration_frames: int
    poster: PosterFacts
    width: int | None = None
    height: int | None = None
    fps: str | None = None
    rotation: int = 0
    timecode: str | None = None
    color_transfer: int | None = None
    audio: AudioFacts | None = None


@dataclass(frozen=True)
class SheetCell:
    """One contact-sheet cell: the proxy frame it shows and that frame's source timecode."""

    frame: int
    timecode: str | None


@dataclass(frozen=True)
class ContactSheet:
    """A contact sheet and what it shows, cell by cell (left to right, top to bottom)."""

    path: Path
    columns: int
    rows: int
    cell_width: int
    cell_height: int
    cells: tuple[SheetCell, ...]


@dataclass(frozen=True)
class QcRecord:
    """The QC of one render: facts read back, measurements, the rules and the flags, and the run's own facts."""

    kind: MediaKind
    facts: OutputFacts
    measured: Measurements
    rules: QcRules
    flags: tuple[QcFlag, ...]
    profile_hash: str
    source_duration_frames: int
    render_seconds: float
    decode_errors: tuple[str, ...] = ()
    decode_error_count: int = 0
    tone_mapped_from: str | None = None
    audio_streams: tuple[int, ...] = ()
    audio_tracks: str = "first"
    contact_sheet: ContactSheet | None = None

    def to_json(self) -> JsonObject:
        """The record as the ledger stores it and `--json` shows it (flat keys, as stored before it was a record)."""
        f = self.facts
        data: JsonObject = {
            "kind": self.kind,
            "width": f.width,
            "height": f.height,
            "fps": f.fps,
            "duration_frames": f.duration_frames,
            "rotation": f.rotation,
            "timecode": f.timecode,
            "color_transfer": f.color_transfer,
            "audio": None if f.audio is None else {
                "codec": f.audio.codec, "sample_rate": f.audio.sample_rate, "channels": f.audio.channels,
            },
            "poster": {"width": f.poster.width, "height": f.poster.height, "frame": f.poster.frame,
                       "waveform": f.poster.waveform},
            **self.measured.to_json(),
            "rules": self.rules.to_json(),
            "flags": [flag.to_json() for flag in self.flags],
            "decode_errors": list(self.decode_errors),
            "decode_error_count": self.decode_error_count,
            "source_duration_frames": self.source_duration_frames,
            "render_seconds": self.render_seconds,
            "profile_hash": self.profile_hash,
            "tone_mapped_from": self.tone_mapped_from,
            "audio_streams": list(self.audio_streams),
            "audio_tracks": self.audio_tracks,
        }  # fmt: skip
        sheet = self.contact_sheet
        if sheet is not None:
            data["contact_sheet"] = str(sheet.path)
            data["contact_sheet_layout"] = {
                "columns": sheet.columns, "rows": sheet.rows,
                "cell_width": sheet.cell_width, "cell_height": sheet.cell_height,
            }  # fmt: skip
            data["contact_sheet_cells"] = [{"frame": c.frame, "timecode": c.timecode} for c in sheet.cells]
        return data


@dataclass(frozen=True)
class ProxyResult:
    """A rendered proxy, its poster and contact sheet, with facts and QC measured on the same run."""

    asset_id: str
    proxy: Path
    poster: Path
    qc: QcRecord
    contact_sheet: Path | None = None


def contact_sheet_record(src: ProxySource, profile: RenderProfile, sheet: Path, frames_out: int) -> ContactSheet:
    """What the contact sheet shows, cell by cell (left to right, top to bottom)."""
    frames = [n for n in contact_sheet_frames(src, profile.contact_sheet_cells) if n < max(1, frames_out)]
    cell_w, cell_h = profile.contact_cell_size
    return ContactSheet(
        path=sheet,
        columns=profile.contact_sheet_columns,
        rows=profile.contact_sheet_rows,
        cell_width=cell_w,
        cell_height=cell_h,
        cells=tuple(SheetCell(frame=n, timecode=src.clock.at(n)) for n in frames),
    )


def lock_path(out_dir: Path, src: ProxySource) -> Path:
    """The lock a render of `src` holds while it writes into `out_dir` (see renders.runner.output_lock)."""
    return out_dir / f".{src.asset_id}.lock"


def qc_record(
    kind: MediaKind,
    facts: OutputFacts,
    measured: Measurements,
    rules: QcRules,
    src: ProxySource,
    profile: RenderProfile,
    result: RunResult,
    *,
    hdr: bool = False,
    contact_sheet: ContactSheet | None = None,
) -> QcRecord:
    """The QC record of one finished run: its facts and measurements, flagged under `rules`, and the run's facts."""
    errors = result.stderr_lines
    if errors:
        log.warning(
            "%s: ffmpeg reported %d error line(s) while rendering, first: %s", src.asset_id, len(errors), errors[0]
        )
    return QcRecord(
        kind=kind,
        facts=facts,
        measured=measured,
        rules=rules,
        flags=qc_flags(measured, rules),
        decode_errors=tuple(errors[:DECODE_ERRORS_KEPT]),
        decode_error_count=len(errors),
        source_duration_frames=src.duration_frames,
        render_seconds=round(result.elapsed_s, 3),
        profile_hash=profile.profile_hash(),
        tone_mapped_from=src.color_transfer if hdr else None,
        audio_streams=src.audio_streams if src.has_audio else (),
        audio_tracks=profile.audio_tracks,
        contact_sheet=contact_sheet,
    )

"""QC measured inside a proxy's own ffmpeg run: black, frozen and silent runs, EBU R128 loudness, and flags.

The detectors sit on branches of the proxy's single decode (see renders.proxy): the video detectors on a
picture downscaled to about 320x180 (on a full-size picture freezedetect costs as much as a second decode),
the audio detectors on the source audio. They report through frame metadata, which `metadata=print:file=`
and `ametadata=print:file=` write to small text files, one `frame:N pts:P pts_time:T` line followed by
that frame's `key=value` lines; parsing those is sturdier than scraping ffmpeg's log.

`measure` reads those files into renders.measurements.Measurements (a frozen run within a black one is not
listed again); renders.flags holds them against the rules, and renders.outcome.QcRecord carries both.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from core.timecode import Clock
from renders.errors import QcUnreadable
from renders.measurements import Loudness, Measurements, QcRun
from renders.profile import QcProfile

log = logging.getLogger(__name__)

_LOUDNESS_TAIL_BYTES = 8192


# ------------------------------------------------------------------------------------------- graph branches
def video_detectors(stream: Any, qc: QcProfile, metadata_file: Path) -> Any:
    """Downscale, then blackdetect → freezedetect → metadata print; the result goes to a null output."""
    return (
        stream.filter(
            "scale",
            w=f"min(iw,{qc.video_width})",
            h=f"min(ih,{qc.video_height})",
            force_original_aspect_ratio="decrease",
            force_divisible_by=2,
            flags="area",
        )
        .filter(
            "blackdetect",
            d=qc.black_min_seconds,
            pix_th=qc.black_pixel_threshold,
            pic_th=qc.black_picture_ratio,
        )
        .filter("freezedetect", n=f"{qc.freeze_noise_db:g}dB", d=qc.freeze_min_seconds)
        .filter("metadata", mode="print", file=str(metadata_file.absolute()))
    )


def audio_detectors(stream: Any, qc: QcProfile, silence_file: Path, loudness_file: Path) -> Any:
    """silencedetect → print → ebur128 (true peak, mono as dual mono) → print; the result goes to a null output."""
    return (
        stream.filter("silencedetect", n=f"{qc.silence_noise_db:g}dB", d=qc.silence_min_seconds)
        .filter("ametadata", mode="print", file=str(silence_file.absolute()))
        # dualmono: a mono track is heard on both speakers, so it is measured as such (EBU Tech 3341).
        .filter("ebur128", peak="true", metadata=1, dualmono="true")
        .filter("ametadata", mode="print", file=str(loudness_file.absolute()))
    )


@dataclass(frozen=True)
class QcFiles:
    """Where one run's detectors write: hidden names next to the outputs, removed after reading."""

    video: Path | None
    silence: Path | None
    loudness: Path | None

    @classmethod
    def beside(cls, out_dir: Path, asset_id: str, *, video: bool, audio: bool) -> QcFiles:
        def name(part: str) -> Path:
            return out_dir / f".{asset_id}.qc-{part}.txt"

        return cls(
            video=name("video") if video else None,
            silence=name("silence") if audio else None,
            loudness=name("loudness") if audio else None,
        )

    def paths(self) -> list[Path]:
        return [p for p in (self.video, self.silence, self.loudness) if p is not None]

    def remove(self) -> None:
        for path in self.paths():
            path.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------------ time
@dataclass(frozen=True)
class Interval:
    """A run of frames [start_frame, end_frame) at `rate`."""

    start_frame: int
    end_frame: int
    rate: Fraction

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame

    def to_run(self, clock: Clock) -> QcRun:
        """This run with the source timecodes `clock` gives its ends."""
        return QcRun(
            start_frame=self.start_frame,
            end_frame=self.end_frame,
            rate=self.rate,
            start=clock.at(self.start_frame),
            end=clock.at(self.end_frame),
            duration=clock.length(self.frames),
        )


# ------------------------------------------------------------------------------------------------ parsing
@dataclass(frozen=True)
class MetadataFrame:
    """One frame's block of a metadata print file."""

    index: int
    pts_time: float | None
    values: dict[str, str]


def parse_metadata_print(text: str) -> Iterator[MetadataFrame]:
    """Blocks of `metadata=print` output: a `frame:N pts:P pts_time:T` line, then `key=value` lines."""
    index: int | None = None
    pts_time: float | None = None
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("frame:"):
            if index is not None:
                yield MetadataFrame(index, pts_time, values)
            fields = dict(part.split(":", 1) for part in line.split() if ":" in part)
            try:
                index = int(fields["frame"])
                pts_time = float(fields["pts_time"]) if fields.get("pts_time") not in (None, "NOPTS") else None
            except (KeyError, ValueError) as exc:
                raise QcUnreadable(f"unexpected metadata line {line!r}") from exc
            values = {}
        elif "=" in line and index is not None:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    if index is not None:
        yield MetadataFrame(index, pts_time, values)


def _read(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise QcUnreadable(f"ffmpeg wrote no QC file {path.name}") from exc


def _read_tail(path: Path, size: int = _LOUDNESS_TAIL_BYTES) -> str:
    """The end of a file: ebur128 prints every 100 ms, and only its last block (the totals) matters."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            end = f.tell()
            f.seek(max(0, end - size))
            data = f.read()
    except FileNotFoundError as exc:
        raise QcUnreadable(f"ffmpeg wrote no QC file {path.name}") from exc
    text = data.decode("utf-8", errors="replace")
    start = text.find("frame:")
    return text[start:] if start >= 0 else ""


def _frame_at(seconds: float, rate: Fraction, offset: int) -> int:
    """Frame index of a time on the run's clock: the video's first frame is `offset` frames from zero."""
    return max(0, round(Fraction(seconds).limit_denominator(1_000_000) * rate) - offset)


def _pairs(
    starts: list[int], ends: list[int], rate: Fraction, total_frames: int, min_frames: int
) -> list[Interval]:
    """Match run starts with their ends (an open run ends with the clip), keep those long enough."""
    runs: list[Interval] = []
    pending = sorted(ends)
    for start in sorted(starts):
        end = next((e for e in pending if e > start), None)
        if end is None:
            end = max(start, total_frames)
        else:
            pending.remove(end)
        if end - start >= min_frames and end > start:
            runs.append(Interval(start, end, rate))
    return runs


def _min_frames(seconds: float, rate: Fraction) -> int:
    return max(1, math.ceil(Fraction(str(seconds)) * rate - Fraction(1, 1000)))


def video_runs(
    text: str, rate: Fraction, total_frames: int, qc: QcProfile
) -> tuple[list[Interval], list[Interval], int]:
    """(black runs, frozen runs, offset) from the video detectors' print file.

    blackdetect marks the first black frame and the first frame after; freezedetect marks freeze_start
    only once a freeze has lasted its minimum, with the time of the run's first frame as its value, so
    frozen runs are placed by their values. `offset` is the video's first frame on the run's clock (in
    frames), needed to place audio times.
    """
    black_starts: list[int] = []
    black_ends: list[int] = []
    freeze_starts: list[int] = []
    freeze_ends: list[int] = []
    offset: int | None = None
    for block in parse_metadata_print(text):
        if offset is None and block.pts_time is not None:
            offset = round(Fraction(block.pts_time).limit_denominator(1_000_000) * rate) - block.index
        v = block.values
        if "lavfi.black_start" in v:
            black_starts.append(block.index)
        if "lavfi.black_end" in v:
            black_ends.append(block.index)
        if "lavfi.freezedetect.freeze_start" in v:
            freeze_starts.append(_frame_at(float(v["lavfi.freezedetect.freeze_start"]), rate, offset or 0))
        if "lavfi.freezedetect.freeze_end" in v:
            freeze_ends.append(_frame_at(float(v["lavfi.freezedetect.freeze_end"]), rate, offset or 0))
    black = _pairs(black_starts, black_ends, rate, total_frames, _min_frames(qc.black_min_seconds, rate))
    frozen = _pairs(freeze_starts, freeze_ends, rate, total_frames, _min_frames(qc.freeze_min_seconds, rate))
    return black, frozen, offset or 0


def silent_runs(text: str, rate: Fraction, total_frames: int, offset: int, qc: QcProfile) -> list[Interval]:
    """Silent runs from silencedetect's print file, in video frames (`offset`: see video_runs)."""
    starts: list[int] = []
    ends: list[int] = []
    for block in parse_metadata_print(text):
        v = block.values
        # Without mono=1 silencedetect judges all channels together: the keys carry no channel suffix.
        if "lavfi.silence_start" in v:
            starts.append(_frame_at(float(v["lavfi.silence_start"]), rate, offset))
        if "lavfi.silence_end" in v:
            ends.append(_frame_at(float(v["lavfi.silence_end"]), rate, offset))
    return _pairs(starts, ends, rate, total_frames, _min_frames(qc.silence_min_seconds, rate))


def loudness(text: str) -> Loudness:
    """EBU R128 totals from the last block ebur128 printed (its values are running totals)."""
    blocks = list(parse_metadata_print(text))
    if not blocks:
        raise QcUnreadable("ebur128 printed no measurement (no audio reached it)")
    v = blocks[-1].values
    try:
        integrated = float(v["lavfi.r128.I"])
        lra = float(v["lavfi.r128.LRA"])
        peak = float(v["lavfi.r128.true_peak"])
    except (KeyError, ValueError) as exc:
        raise QcUnreadable(f"ebur128 totals incomplete: {sorted(v)}") from exc
    return Loudness(
        integrated_lufs=round(integrated, 2),
        range_lu=round(lra, 2),
        # Printed as a linear ratio to full scale; 0 means digital silence (no peak in dB).
        true_peak_dbtp=round(20 * math.log10(peak), 2) if peak > 0 else None,
    )


def measure(
    files: QcFiles, rate: Fraction, total_frames: int, clock: Clock, qc: QcProfile
) -> Measurements:
    """Read the detectors' files of one finished run."""
    black: list[Interval] = []
    frozen: list[Interval] = []
    offset = 0
    if files.video is not None:
        black, frozen, offset = video_runs(_read(files.video), rate, total_frames, qc)
        # Black frames are also identical frames: a frozen run inside a black one says nothing new.
        frozen = [f for f in frozen if not any(b.start_frame <= f.start_frame and f.end_frame <= b.end_frame
                                               for b in black)]
    silent: list[Interval] = []
    measured: Loudness | None = None
    if files.silence is not None and files.loudness is not None:
        silent = silent_runs(_read(files.silence), rate, total_frames, offset, qc)
        measured = loudness(_read_tail(files.loudness))
    return Measurements(
        black=tuple(run.to_run(clock) for run in black),
        frozen=tuple(run.to_run(clock) for run in frozen),
        silent=tuple(run.to_run(clock) for run in silent),
        loudness=measured,
    )

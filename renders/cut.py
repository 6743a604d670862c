"""The review cut's ffmpeg graphs: runs of takes and cards as parts of a segment, the segment's mux (pictures
joined by stream copy, its sound encoded once), the join by stream copy, the loudness pass, a poster.

Each take reads its proxy from an accurate input seek half a frame before its first frame (so timestamp
rounding can neither keep the frame before nor lose the first one), then keeps exactly its frames (trim by
frame count), so the frame at record position r shows source frame source_in + (r - record_in). A take at
another rate than the timeline is converted with the fps filter: each source frame held for its duration.
Cards and gaps are black with their text, encoded once a GOP long and repeated. The record timecode runs top
right over takes (a card shows its record span there); the clip name and its source timecode sit small at the
bottom left. Every part is encoded with the same options, a fixed GOP and no scene-cut keyframes, so each starts
on a keyframe and the concat demuxer joins parts and segments by stream copy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from core.timecode import rate_text
from renders.burnin import burn_running_timecode, burn_text
from renders.profile import RenderProfile


@dataclass(frozen=True)
class CutPiece:
    """What the renderer needs of one piece of a segment (see editorial.segments.Piece)."""

    kind: str  # take, card or black
    frames: int
    name: str
    lines: tuple[str, ...] = ()
    proxy: Path | None = None
    proxy_fps: Fraction | None = None
    has_audio: bool = False
    source_in: int = 0
    source_timecode: str | None = None
    source_rate: Fraction | None = None


def _unique(index: int) -> dict[str, int]:
    """An input option that changes nothing but keeps two identical pieces (two gaps of one length) two inputs:
    ffmpeg-python merges equal nodes, and a node with two consumers needs a split."""
    return {"thread_queue_size": 512 + index}


def _silence(seconds: Fraction, profile: RenderProfile, index: int) -> Any:
    layout = "stereo" if profile.audio_channels == 2 else "mono"
    return ffmpeg.input(f"anullsrc=r={profile.audio_rate}:cl={layout}", f="lavfi", **_unique(index)).filter(
        "atrim", end=f"{float(seconds):.6f}")


def _audio(stream: Any, seconds: Fraction, profile: RenderProfile) -> Any:
    layout = "stereo" if profile.audio_channels == 2 else "mono"
    return (stream.filter("aresample", profile.audio_rate)
            .filter("aformat", sample_rates=profile.audio_rate, channel_layouts=layout)
            .filter("asetpts", "PTS-STARTPTS")
            .filter("apad", whole_dur=f"{float(seconds):.6f}")
            .filter("atrim", end=f"{float(seconds):.6f}"))


def piece_video(piece: CutPiece, fps: Fraction, profile: RenderProfile, font: Path, index: int = 0) -> Any:
    """The picture of one piece: exactly `piece.frames` frames at `fps`; `index` is its position in its run."""
    size = max(10, round(profile.height * 0.028))
    if piece.kind == "take":
        assert piece.proxy is not None and piece.proxy_fps is not None
        src_fps = piece.proxy_fps
        video = _take_input(piece, index)["v:0"]
        if src_fps == fps:
            video = video.filter("trim", end_frame=piece.frames).filter("setpts", "PTS-STARTPTS")
        else:
            need = math.ceil(piece.frames * src_fps / fps) + 1
            video = (video.filter("trim", end_frame=need).filter("setpts", "PTS-STARTPTS")
                     .filter("fps", fps=rate_text(fps), round="up").filter("trim", end_frame=piece.frames))
        video = video.filter("scale", profile.width, profile.height).filter("setsar", 1).filter("format", "yuv420p")
        video = burn_text(video, piece.name, font, fontsize=size, x=str(size), y=f"h-{3 * size}")
        if piece.source_timecode and piece.source_rate:
            video = burn_running_timecode(video, piece.source_timecode, piece.source_rate, font, fontsize=size,
                                          x=str(size), y=f"h-{int(1.5 * size)}")
        return video
    return _card(piece.lines, piece.frames, fps, profile, font, index)


def _card(lines: Sequence[str], frames: int, fps: Fraction, profile: RenderProfile, font: Path, index: int) -> Any:
    """Text lines centred on black, `frames` frames at `fps`."""
    size = max(10, round(profile.height * 0.028))
    video = ffmpeg.input(f"color=c=black:s={profile.width}x{profile.height}:r={rate_text(fps)}", f="lavfi",
                         **_unique(index))
    video = video.filter("trim", end_frame=frames).filter("setsar", 1).filter("format", "yuv420p")
    big = max(14, round(profile.height * 0.05))
    for i, line in enumerate(lines):
        video = burn_text(video, line, font, fontsize=big if i == 0 else size, x="(w-text_w)/2",
                          y=f"h/2-{big * 2}+{i * big * 2}")
    return video


def _take_input(piece: CutPiece, index: int) -> Any:
    """The take's proxy from an accurate seek half a frame before its first frame."""
    assert piece.proxy is not None and piece.proxy_fps is not None
    options: dict[str, Any] = _unique(index)
    if piece.source_in > 0:
        options["ss"] = f"{float((piece.source_in - Fraction(1, 2)) / piece.proxy_fps):.6f}"
    return ffmpeg.input(str(piece.proxy.absolute()), **options)


def piece_audio(piece: CutPiece, fps: Fraction, profile: RenderProfile, index: int = 0) -> Any:
    """The sound of one piece, exactly as long as its pictures: the take's first usable track, else silence."""
    seconds = Fraction(piece.frames) / fps
    if piece.kind == "take" and piece.has_audio:
        return _audio(_take_input(piece, index)["a:0"], seconds, profile)
    return _silence(seconds, profile, index)


def piece_streams(piece: CutPiece, fps: Fraction, profile: RenderProfile, font: Path,
                  index: int = 0) -> tuple[Any, Any]:
    """(video, audio) of one piece (one input for both, when a take)."""
    return piece_video(piece, fps, profile, font, index), piece_audio(piece, fps, profile, index)


def _encoder_options(fps: Fraction, profile: RenderProfile) -> dict[str, Any]:
    """The one set of x264 options of every part of the review cut: parts join by stream copy only when their
    parameter sets match, so takes and cards are encoded alike (cards are cheap by being encoded once)."""
    gop = profile.gop_frames(fps)
    return {"c:v": profile.video_codec, "preset": profile.preset, "crf": profile.crf,
            "profile:v": profile.h264_profile, "pix_fmt": profile.pix_fmt, "g": gop, "keyint_min": gop,
            "sc_threshold": 0, "video_track_timescale": track_timescale(fps), "map_metadata": -1,
            "fflags": "+bitexact", "flags:v": "+bitexact"}


def takes_stream(
    pieces: Sequence[CutPiece], fps: Fraction, record_timecode: str, profile: RenderProfile, font: Path,
    out_path: Path, first_index: int = 0,
) -> Any:
    """A run of consecutive takes, pictures only: concatenated, the record timecode running from
    `record_timecode` burnt in, encoded to `out_path` (starting on a keyframe). `first_index`: the first piece's
    position among all pieces of one ffmpeg command (inputs stay apart)."""
    videos = [piece_video(piece, fps, profile, font, first_index + index) for index, piece in enumerate(pieces)]
    joined = ffmpeg.concat(*videos, v=1, a=0, n=len(videos)) if len(videos) > 1 else videos[0]
    size = max(14, round(profile.height * 0.05))
    video = burn_running_timecode(joined, record_timecode, fps, font, fontsize=size, x=f"w-text_w-{size}",
                                  y=str(size))
    return ffmpeg.output(video, str(out_path.absolute()), f="mp4", r=rate_text(fps), **_encoder_options(fps, profile))


def card_stream(
    lines: Sequence[str], frames: int, fps: Fraction, corner: str, profile: RenderProfile, font: Path,
    out_path: Path, index: int = 0,
) -> Any:
    """`frames` frames of a card (text on black; no text: black) with `corner` where takes run the record
    timecode, pictures only. A card is encoded once a GOP long and repeated by stream copy, so its timecode
    cannot run: `corner` gives its record span instead."""
    video = _card(lines, frames, fps, profile, font, index)
    size = max(14, round(profile.height * 0.05))
    if corner:
        video = burn_text(video, corner, font, fontsize=size, x=f"w-text_w-{size}", y=str(size))
    return ffmpeg.output(video, str(out_path.absolute()), f="mp4", r=rate_text(fps), **_encoder_options(fps, profile))


def segment_mux_stream(
    parts_list: Path, pieces: Sequence[CutPiece], fps: Fraction, profile: RenderProfile, out_path: Path
) -> Any:
    """One segment: its pictures joined from the parts' list by stream copy, its sound (every piece's, in one
    AAC encode, so no gap or overlap between pieces) encoded beside them, to `out_path`."""
    video = ffmpeg.input(str(parts_list.absolute()), f="concat", safe=0)["v:0"]
    sounds = [piece_audio(piece, fps, profile, index) for index, piece in enumerate(pieces)]
    audio = ffmpeg.concat(*sounds, v=0, a=1, n=len(sounds)) if len(sounds) > 1 else sounds[0]
    return ffmpeg.output(
        video, audio, str(out_path.absolute()), f="mp4",
        **{"c:v": "copy", "c:a": profile.audio_codec, "b:a": profile.audio_bitrate, "ar": profile.audio_rate,
           "ac": profile.audio_channels, "map_metadata": -1, "video_track_timescale": track_timescale(fps),
           "fflags": "+bitexact", "flags:a": "+bitexact"},
    )


def segment_stream(
    pieces: Sequence[CutPiece], fps: Fraction, record_timecode: str, profile: RenderProfile, font: Path,
    out_path: Path,
) -> Any:
    """One segment in one pass: its pieces concatenated, the record timecode running over all of them (the
    bare reference the benchmark measures against; the review cut renders segments by parts)."""
    parts: list[Any] = []
    for index, piece in enumerate(pieces):
        parts.extend(piece_streams(piece, fps, profile, font, index))
    joined = ffmpeg.concat(*parts, v=1, a=1, n=len(pieces)).node
    size = max(14, round(profile.height * 0.05))
    video = burn_running_timecode(joined[0], record_timecode, fps, font, fontsize=size, x=f"w-text_w-{size}",
                                  y=str(size))
    return ffmpeg.output(
        video, joined[1], str(out_path.absolute()), f="mp4", r=rate_text(fps),
        **_encoder_options(fps, profile),
        **{"c:a": profile.audio_codec, "b:a": profile.audio_bitrate, "ar": profile.audio_rate,
           "ac": profile.audio_channels, "flags:a": "+bitexact"},
    )


def track_timescale(fps: Fraction) -> int:
    """An MP4 video timescale in which every frame of `fps` lasts a whole number of ticks (30000 at 29.97)."""
    return fps.numerator * (512 if fps.denominator == 1 else 1)


def concat_list(segments: Sequence[tuple[Path, Fraction]]) -> str:
    """The concat demuxer's list of (segment file, picture duration in seconds).

    The duration is given so each segment starts where the previous one's pictures end (its AAC audio runs a
    few milliseconds longer, to a whole audio frame, and would otherwise push the next pictures late).
    """
    lines = ["ffconcat version 1.0"]
    for path, seconds in segments:
        quoted = str(path.absolute()).replace("'", "'\\''")
        lines += [f"file '{quoted}'", f"duration {float(seconds):.6f}"]
    return "\n".join(lines) + "\n"


def ffmetadata_chapters(chapters: Sequence[tuple[str, Fraction, Fraction]], title: str) -> str:
    """An FFMETADATA1 file with one chapter per (title, start s, end s), in milliseconds."""

    def esc(text: str) -> str:
        return "".join("\\" + ch if ch in "=;#\\\n" else ch for ch in text)

    lines = [";FFMETADATA1", f"title={esc(title)}"]
    for name, start, end in chapters:
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={round(start * 1000)}", f"END={round(end * 1000)}",
                  f"title={esc(name)}"]
    return "\n".join(lines) + "\n"


def join_args(exe: str, list_file: Path, metadata_file: Path, out_path: Path) -> list[str]:
    """Segments joined by stream copy, chapters and title from the FFMETADATA file, faststart."""
    return [exe, "-f", "concat", "-safe", "0", "-i", str(list_file.absolute()), "-i", str(metadata_file.absolute()),
            "-map", "0:v:0", "-map", "0:a:0?", "-map_metadata", "1", "-map_chapters", "1", "-c", "copy",
            "-movflags", "+faststart", "-fflags", "+bitexact", "-f", "mp4", str(out_path.absolute())]


def loudness_stream(path: Path, loudness_file: Path,
                    audible: Sequence[tuple[Fraction, Fraction]] | None = None) -> Any:
    """The whole cut's sound through ebur128 (true peak) printing to `loudness_file`; a null output.

    `audible`: the spans (seconds) where the cut has any sound; the rest is digital silence, which cannot change
    a gated R128 measurement (below the -70 LUFS absolute gate) or a peak, so only these spans are measured (a
    string-out of slates is mostly silence, and ebur128 with true peak costs ~1 s of CPU a minute).
    """
    audio = ffmpeg.input(str(path.absolute()))["a:0"]
    if audible is not None:
        spans = "+".join(f"between(t,{float(a):.6f},{float(b):.6f})" for a, b in audible)
        audio = audio.filter("aselect", spans)
    measured = (audio.filter("ebur128", peak="true", metadata=1, dualmono="true")
                .filter("ametadata", mode="print", file=str(loudness_file.absolute())))
    return ffmpeg.output(measured, "-", f="null")


def poster_stream(path: Path, seconds: Fraction, profile: RenderProfile, out_path: Path) -> Any:
    """One frame of the cut at `seconds` as the poster JPEG at the profile's poster size."""
    return ffmpeg.input(str(path.absolute()), ss=f"{float(seconds):.3f}").filter(
        "scale", profile.poster_width, profile.poster_height).output(
        str(out_path.absolute()), vframes=1, f="image2", **{"q:v": 3, "fflags": "+bitexact"})

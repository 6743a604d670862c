"""The review cut's subtitles as texts to check: WebVTT cues, each given to the scene whose chapter contains it.

`docfilm cut render` writes `chapters.vtt` (one cue per scene, its text starting with the scene id) and
`subtitles.<lang>.vtt` beside the cut; a figure in a cue is located at its line and column in that .vtt file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

_TIMING = re.compile(r"^\s*(\S+)\s+-->\s+(\S+)")


@dataclass(frozen=True)
class Cue:
    """One WebVTT cue: its times in seconds, its text (lines joined by newlines) and the line its text starts on."""

    start: Fraction
    end: Fraction
    text: str
    line: int  # 1-based line of the cue's first text line


def vtt_seconds(stamp: str) -> Fraction:
    """`HH:MM:SS.mmm` or `MM:SS.mmm` as exact seconds."""
    parts = stamp.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"not a WebVTT timestamp: {stamp!r}")
    seconds = Fraction(parts[-1])
    for i, part in enumerate(reversed(parts[:-1]), 1):
        seconds += int(part) * 60 ** i
    return seconds


def read_cues(path: Path) -> list[Cue]:
    """The cues of a WebVTT file, in file order (NOTE, STYLE and REGION blocks have no timing line: skipped)."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    cues: list[Cue] = []
    i = 0
    while i < len(lines):
        timing = _TIMING.match(lines[i])
        if timing is None:
            i += 1
            continue
        first = i + 1
        j = first
        while j < len(lines) and lines[j].strip():
            j += 1
        try:
            start, end = vtt_seconds(timing.group(1)), vtt_seconds(timing.group(2))
        except ValueError:
            i = j
            continue
        cues.append(Cue(start, end, "\n".join(lines[first:j]), first + 1))
        i = j
    return cues


def chapter_spans(path: Path) -> list[tuple[str, Fraction, Fraction]]:
    """(scene id, start, end) of each chapter of the cut: the scene id is the first word of its title."""
    return [(cue.text.split()[0], cue.start, cue.end) for cue in read_cues(path) if cue.text.split()]


def scene_at(spans: list[tuple[str, Fraction, Fraction]], cue: Cue) -> str | None:
    """The scene whose span on the cut contains the cue (its start; a cue starting on a cut belongs to what follows)."""
    for scene, start, end in spans:
        if start <= cue.start < end:
            return scene
    return None


def cue_position(cue: Cue, offset: int) -> tuple[int, int]:
    """Line and column in the .vtt file of character `offset` of the cue's text."""
    head = cue.text[:offset]
    newline = head.rfind("\n")
    return cue.line + head.count("\n"), offset - newline


@dataclass(frozen=True)
class SubtitleFile:
    """One subtitle file of the cut: its language, its cues and the scene each cue belongs to (None: no chapter)."""

    path: Path
    lang: str
    cues: list[Cue]
    scenes: list[str | None]


def cut_subtitles(chapters: Path, files: dict[str, Path]) -> list[SubtitleFile]:
    """The cut's subtitle files that exist, each cue given its scene from the chapters (none without them)."""
    spans = chapter_spans(chapters) if chapters.is_file() else []
    found = []
    for lang, path in files.items():
        if not path.is_file():
            continue
        cues = read_cues(path)
        found.append(SubtitleFile(path, lang, cues, [scene_at(spans, cue) for cue in cues]))
    return found

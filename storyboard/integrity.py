"""Cross-reference checks of a storyboard: unique ids, existing themes and facts, runtime within target.

They run on the plain data parsed from YAML, not on validated models, so that a type error in one scene
does not hide a dangling reference in another; anything malformed is skipped here (the schema reports it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Loc = tuple[str | int, ...]
# A mapping as YAML parsed it, before any validation: its values may be of any type, so each is checked here.
RawMapping = Mapping[str, object]

DEFAULT_FPS = 25
SCENE_ID_PATTERN = r"^S\d{2}$"
SHOT_ID_PATTERN = r"^S\d{2}-\d{2}$"


@dataclass(frozen=True)
class Issue:
    """One cross-reference problem at `loc` (pointing at the key itself when `at_key`)."""

    loc: Loc
    message: str
    at_key: bool = False
    first: Loc | None = None  # where the clashing earlier definition is, for duplicates


def format_loc(loc: Iterable[str | int]) -> str:
    """Dotted field path of a location: ('scenes', 3, 'theme') -> 'scenes[3].theme'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def minutes(frames: int, fps: int) -> str:
    """Frames as decimal minutes, for messages only (never used for arithmetic)."""
    return f"{frames / (fps * 60):.2f} min"


def _text(value: Any) -> str | None:
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else None


def _count(value: Any) -> int | None:
    # bool is an int subclass: YAML `yes` must not count as one frame.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _records(data: RawMapping, key: str) -> list[tuple[int, RawMapping]]:
    seq = data.get(key)
    if not isinstance(seq, list):
        return []
    return [(i, item) for i, item in enumerate(seq) if isinstance(item, dict)]


def _ids(data: RawMapping, key: str) -> list[str] | None:
    """The ids defined in a top-level list (in order), or None when that list is itself malformed."""
    if not isinstance(data.get(key), list):
        return None
    ids = [text for _, item in _records(data, key) if (text := _text(item.get("id"))) is not None]
    return list(dict.fromkeys(ids))


def _duplicates(entries: Iterable[tuple[Loc, Any]], what: str) -> Iterator[Issue]:
    seen: dict[str | int, Loc] = {}
    for loc, raw in entries:
        value = _text(raw) if isinstance(raw, str) else _count(raw)
        if value is None:
            continue
        if value in seen:
            yield Issue(loc, f"duplicate {what} {value!r}; each must be unique", first=seen[value])
        else:
            seen[value] = loc


def _one_of(ids: list[str]) -> str:
    return ", ".join(ids) if ids else "(none defined)"


def integrity_issues(data: Any) -> list[Issue]:
    """Every cross-reference problem of a parsed storyboard document."""
    if not isinstance(data, dict):
        return []
    issues: list[Issue] = []
    scenes = _records(data, "scenes")
    shots = [(si, scene, hi, shot) for si, scene in scenes for hi, shot in _records(scene, "shots")]

    for key, what in (("milestones", "milestone id"), ("themes", "theme id"), ("facts", "fact id")):
        issues += _duplicates((((key, i, "id"), item.get("id")) for i, item in _records(data, key)), what)
    issues += _duplicates(
        ((("themes", i, "order"), item.get("order")) for i, item in _records(data, "themes")), "theme order"
    )
    issues += _duplicates(((("scenes", i, "id"), scene.get("id")) for i, scene in scenes), "scene id")
    issues += _duplicates(((("scenes", i, "order"), scene.get("order")) for i, scene in scenes), "scene order")
    issues += _duplicates(((("scenes", si, "shots", hi, "id"), shot.get("id")) for si, _, hi, shot in shots), "shot id")

    theme_ids = _ids(data, "themes")
    if theme_ids is not None:
        for i, scene in scenes:
            theme = _text(scene.get("theme"))
            if theme is not None and theme not in theme_ids:
                issues.append(
                    Issue(
                        ("scenes", i, "theme"),
                        f"scene {scene.get('id')!s}: theme {theme!r} does not exist; "
                        f"expected one of {_one_of(theme_ids)}",
                    )
                )

    for si, scene, hi, shot in shots:
        scene_id, shot_id = _text(scene.get("id")), _text(shot.get("id"))
        if (
            scene_id is not None
            and shot_id is not None
            and re.match(SCENE_ID_PATTERN, scene_id)
            and re.match(SHOT_ID_PATTERN, shot_id)
            and not shot_id.startswith(f"{scene_id}-")
        ):
            issues.append(
                Issue(
                    ("scenes", si, "shots", hi, "id"),
                    f"shot {shot_id} is listed under scene {scene_id}; expected an id {scene_id}-NN",
                )
            )

    fact_ids = _ids(data, "facts")
    if fact_ids is not None:
        for si, _, hi, shot in shots:
            refs = shot.get("facts")
            if not isinstance(refs, list):
                continue
            for fi, ref in enumerate(refs):
                fact = _text(ref)
                if fact is not None and fact not in fact_ids:
                    issues.append(
                        Issue(
                            ("scenes", si, "shots", hi, "facts", fi),
                            f"shot {shot.get('id')!s}: fact {fact!r} does not exist in facts",
                        )
                    )

    issues += _runtime_issues(data, scenes)
    return issues


def _runtime_issues(data: RawMapping, scenes: list[tuple[int, RawMapping]]) -> list[Issue]:
    film = data.get("film")
    if not isinstance(film, dict):
        return []
    target = _count(film.get("target_runtime_frames"))
    fps = _count(film.get("fps", DEFAULT_FPS))
    if target is None or target <= 0:
        return []
    if fps is None or fps <= 0:
        fps = DEFAULT_FPS
    planned = (_count(scene.get("planned_frames")) for _, scene in scenes)
    total = sum(frames for frames in planned if frames is not None and frames > 0)
    if total <= target:
        return []
    over = total - target
    return [
        Issue(
            ("scenes",),
            f"planned duration {minutes(total, fps)} ({total:,} frames at {fps} fps) is over "
            f"film.target_runtime_frames {minutes(target, fps)} ({target:,} frames) "
            f"by {minutes(over, fps)} ({over:,} frames)",
            at_key=True,
        )
    ]

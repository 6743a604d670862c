"""What a packet showed and what changed since: `packet-state.json` and the change marks of the next packet.

`packet-state.json` remembers, for the next build, what this packet showed (a fingerprint per scene, the
proxy hash per clip) and the hashes of its media files keyed by packet name with their size and mtime, so
an unchanged file is not hashed again. Changes are marked against the last packet whose content differed,
so a nightly rebuild with nothing new keeps showing what changed since the packet before.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from review.cut import CutChanges, compare_cuts
from review.manifest import STATE_NAME, HashCache
from review.notes import canonical_json

if TYPE_CHECKING:
    from storyboard.models import Film, Scene

log = logging.getLogger(__name__)

STATE_SCHEMA = "docfilm.packet-state"
_VERSION = 1


@dataclass(frozen=True)
class Snapshot:
    """What one packet showed: a fingerprint per scene and, per clip, its proxy's SHA-256 (None: no proxy)."""

    packet_id: str
    generated_at: str
    scenes: dict[str, str]
    clips: dict[str, str | None]
    cut: dict[str, object] | None = None  # the film it showed (review.cut.cut_snapshot), when it had one

    @property
    def fingerprint(self) -> str:
        body: dict[str, object] = {"scenes": self.scenes, "clips": self.clips}
        if self.cut is not None:
            body["cut"] = self.cut
        return hashlib.sha256(canonical_json(body)).hexdigest()

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"packet_id": self.packet_id, "generated_at": self.generated_at,
                                   "scenes": self.scenes, "clips": self.clips}
        if self.cut is not None:
            data["cut"] = self.cut
        return data

    @classmethod
    def from_json(cls, data: object) -> Snapshot | None:
        if not isinstance(data, dict):
            return None
        scenes, clips = data.get("scenes"), data.get("clips")
        if not isinstance(scenes, dict) or not isinstance(clips, dict):
            return None
        cut = data.get("cut")
        return cls(str(data.get("packet_id", "")), str(data.get("generated_at", "")), scenes, clips,
                   cut if isinstance(cut, dict) else None)


@dataclass(frozen=True)
class PacketState:
    """packet-state.json: this packet's snapshot, the one its change marks compare with, and file hashes."""

    current: Snapshot
    baseline: Snapshot | None
    hash_cache: dict[str, tuple[int, int, str]]

    def to_json(self) -> dict[str, object]:
        return {
            "schema": STATE_SCHEMA,
            "version": _VERSION,
            "current": self.current.to_json(),
            "baseline": self.baseline.to_json() if self.baseline else None,
            "hash_cache": {name: list(v) for name, v in sorted(self.hash_cache.items())},
        }


def read_state(folder: Path) -> PacketState | None:
    """The state left by the packet in `folder`, or None (first build, or unreadable: then nothing is marked)."""
    path = folder / STATE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("%s unreadable (%s); changes will not be marked", path, exc)
        return None
    if not isinstance(data, dict) or data.get("schema") != STATE_SCHEMA or data.get("version") != _VERSION:
        return None
    current = Snapshot.from_json(data.get("current"))
    if current is None:
        return None
    cache: dict[str, tuple[int, int, str]] = {}
    raw_cache = data.get("hash_cache")
    if isinstance(raw_cache, dict):
        for name, value in raw_cache.items():
            if isinstance(value, list) and len(value) == 3:
                cache[str(name)] = (int(value[0]), int(value[1]), str(value[2]))
    return PacketState(current=current, baseline=Snapshot.from_json(data.get("baseline")), hash_cache=cache)


def scene_fingerprint(film: Film, scene: Scene) -> str:
    """Digest of what the storyboard says of a scene: text, state, length, shots and the figures they use."""
    facts: dict[str, object] = {}
    for shot in scene.shots:
        for fact_id in shot.facts:
            try:
                facts[fact_id] = film.fact(fact_id).model_dump(mode="json")
            except KeyError:
                facts[fact_id] = None
    body = {"scene": scene.model_dump(mode="json"), "facts": facts}
    return hashlib.sha256(canonical_json(body)).hexdigest()


@dataclass
class Changes:
    """What changed since `since` (None: first packet, nothing is marked)."""

    since: Snapshot | None
    new_scenes: set[str] = field(default_factory=set)
    changed_scenes: set[str] = field(default_factory=set)
    new_clips: set[str] = field(default_factory=set)
    updated_proxies: set[str] = field(default_factory=set)
    cut: CutChanges | None = None  # the film's changes, when both packets showed a cut

    @property
    def count(self) -> int:
        return (len(self.new_scenes) + len(self.changed_scenes) + len(self.new_clips) + len(self.updated_proxies)
                + (self.cut.count if self.cut is not None else 0))


def compare(current: Snapshot, since: Snapshot | None) -> Changes:
    """New and changed scenes, new clips, clips whose proxy is new or re-rendered, and the film's changes."""
    changes = Changes(since=since)
    if since is None:
        return changes
    if current.cut is not None:
        changes.cut = compare_cuts(current.cut, since.cut)
    for scene_id, print_ in current.scenes.items():
        before = since.scenes.get(scene_id)
        if before is None:
            changes.new_scenes.add(scene_id)
        elif before != print_:
            changes.changed_scenes.add(scene_id)
    for asset_id, proxy in current.clips.items():
        if asset_id not in since.clips:
            changes.new_clips.add(asset_id)
        elif proxy is not None and since.clips[asset_id] != proxy:
            changes.updated_proxies.add(asset_id)
    return changes


def next_state(previous: PacketState | None, current: Snapshot, cache: HashCache) -> PacketState:
    """The state to write now: the baseline moves on only when this packet's content differs from the last."""
    if previous is None:
        baseline = None
    elif previous.current.fingerprint == current.fingerprint:
        baseline = previous.baseline
    else:
        baseline = previous.current
    return PacketState(current=current, baseline=baseline, hash_cache=dict(cache.current))


"""Packet integrity and memory: the manifest of a packet's files, the ledger revision, and what changed.

`manifest.json` (beside index.html, not listing itself):

    {"schema": "docfilm.packet-manifest", "version": 1, "packet_id", "film", "as_of", "generated_at",
     "ledger_revision": "sha256:<hex>", "manifest_sha256": "<hex>",
     "files": [{"path": "index.html", "size": N, "sha256": "<hex>"}, ...]}

`ledger_revision` is a digest of exactly what the packet read from the ledger: every clip record (identity,
scene, shot, timing, proxy state and reason, QC, and the size and mtime of its proxy, poster and contact
sheet) and the ids of the imported notes. Two packets with the same revision were built from the same
ledger state. `manifest_sha256` covers the film, as-of date, ledger revision and every media file (path,
size, SHA-256): it is the packet's content hash, embedded in index.html and in notes exported from it (so
it cannot cover index.html itself).

`packet-state.json` remembers, for the next build, what this packet showed (a fingerprint per scene, the
proxy hash per clip) and the hashes of its media files keyed by packet name with their size and mtime, so
an unchanged file is not hashed again. Changes are marked against the last packet whose content differed,
so a nightly rebuild with nothing new keeps showing what changed since the packet before.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from review.errors import PacketNotFound
from review.notes import ReviewNote, canonical_json
from review.records import ClipRecord

if TYPE_CHECKING:
    from storyboard.models import Film, Scene

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
STATE_NAME = "packet-state.json"
MANIFEST_SCHEMA = "docfilm.packet-manifest"
STATE_SCHEMA = "docfilm.packet-state"
_VERSION = 1


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass
class HashCache:
    """SHA-256 of packet files, reusing the last build's when size and mtime are unchanged.

    Within one build, files that are the same inode (one proxy linked under two names) are hashed once.
    """

    previous: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    current: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    _by_inode: dict[tuple[int, int, int, int], str] = field(default_factory=dict)
    hashed: int = 0

    def entry(self, name: str, source: Path) -> tuple[int, str]:
        """(size, sha256) of `source`, to be placed in the packet as `name`."""
        st = source.stat()
        known = self.previous.get(name)
        inode = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if known is not None and known[0] == st.st_size and known[1] == st.st_mtime_ns:
            sha = known[2]
        elif inode in self._by_inode:
            sha = self._by_inode[inode]
        else:
            sha = file_sha256(source)
            self.hashed += 1
        self._by_inode[inode] = sha
        self.current[name] = (st.st_size, st.st_mtime_ns, sha)
        return st.st_size, sha


def _file_stamp(path: Path | None) -> list[int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def ledger_revision(clips: Iterable[ClipRecord], notes: Iterable[ReviewNote]) -> str:
    """Digest of the ledger state a packet is built from (see the module docstring)."""
    rows = []
    for clip in sorted(clips, key=lambda c: c.asset_id):
        rows.append([
            clip.asset_id, clip.sha256, clip.name, clip.scene_id, clip.shot_id, clip.kind, clip.duration_frames,
            clip.fps, clip.start_timecode, clip.rotation, clip.proxy_state, clip.proxy_reason, clip.qc or {},
            _file_stamp(clip.proxy), _file_stamp(clip.poster), _file_stamp(clip.contact_sheet),
        ])
    note_ids = sorted(note.note_id for note in notes)
    digest = hashlib.sha256(canonical_json({"clips": rows, "notes": note_ids}))
    return f"sha256:{digest.hexdigest()}"


def manifest_digest(header: Mapping[str, Any], media: Mapping[str, tuple[int, str]]) -> str:
    """The packet's content hash over film, as-of, ledger revision and media files (path, size, sha256)."""
    body = {
        "film": header["film"],
        "as_of": header["as_of"],
        "ledger_revision": header["ledger_revision"],
        "media": [[name, size, sha] for name, (size, sha) in sorted(media.items())],
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Pretty, sorted, UTF-8 JSON (written into a build folder, so no temp name is needed)."""
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def manifest_document(header: Mapping[str, Any], files: Mapping[str, tuple[int, str]]) -> dict[str, Any]:
    """The manifest.json object: header fields and every file with size and sha256, by path."""
    return {
        "schema": MANIFEST_SCHEMA,
        "version": _VERSION,
        **header,
        "files": [{"path": name, "size": size, "sha256": sha} for name, (size, sha) in sorted(files.items())],
    }


# ----------------------------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class PacketCheck:
    """What `verify_packet` found; `ok` when nothing is mismatched, missing or extra."""

    folder: Path
    packet_id: str
    ledger_revision: str
    checked: int
    mismatched: list[dict[str, Any]]
    missing: list[str]
    extra: list[str]

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.missing or self.extra)

    def to_json(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "packet_id": self.packet_id,
            "ledger_revision": self.ledger_revision,
            "checked": self.checked,
            "mismatched": self.mismatched,
            "missing": self.missing,
            "extra": self.extra,
            "ok": self.ok,
        }


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a packet folder; PacketNotFound when absent or not a docfilm manifest."""
    path = folder / MANIFEST_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PacketNotFound(folder, f"no {MANIFEST_NAME}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PacketNotFound(folder, f"{MANIFEST_NAME} unreadable: {exc}") from exc
    if not isinstance(document, dict) or document.get("schema") != MANIFEST_SCHEMA:
        raise PacketNotFound(folder, f"{MANIFEST_NAME} has no schema {MANIFEST_SCHEMA!r}")
    if document.get("version") != _VERSION or not isinstance(document.get("files"), list):
        raise PacketNotFound(folder, f"{MANIFEST_NAME} version {document.get('version')!r} is not {_VERSION}")
    return document


def _safe_relative(name: object) -> bool:
    if not isinstance(name, str) or not name or name.startswith("/") or "\\" in name:
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def verify_packet(folder: Path) -> PacketCheck:
    """Re-hash every file of a packet folder against its manifest; report mismatched, missing and extra files.

    A file is mismatched when its size or SHA-256 differs; `manifest.json` itself is reported mismatched
    when its content hash no longer matches its media entries (the manifest was edited).
    """
    folder = Path(folder)
    document = read_manifest(folder)
    listed: dict[str, dict[str, Any]] = {}
    mismatched: list[dict[str, Any]] = []
    for entry in document["files"]:
        name = entry.get("path") if isinstance(entry, dict) else None
        if not _safe_relative(name) or not isinstance(entry.get("sha256"), str):
            mismatched.append({"path": MANIFEST_NAME, "reason": f"bad entry {entry!r}"})
            continue
        listed[str(name)] = entry
    present = {
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink()
    } - {MANIFEST_NAME}
    missing = sorted(set(listed) - present)
    extra = sorted(present - set(listed))
    checked = 0
    for name in sorted(set(listed) & present):
        entry = listed[name]
        path = folder / name
        checked += 1
        size = path.stat().st_size
        if size != entry.get("size"):
            mismatched.append({"path": name, "reason": f"{size} bytes, manifest says {entry.get('size')}"})
            continue
        sha = file_sha256(path)
        if sha != entry["sha256"]:
            mismatched.append({"path": name, "reason": f"sha256 {sha}, manifest says {entry['sha256']}"})
    media = {
        name: (int(e.get("size", -1)), str(e["sha256"])) for name, e in listed.items() if name.startswith("media/")
    }
    try:
        expected = manifest_digest(document, media)
    except KeyError as exc:
        expected = f"(missing {exc})"
    if expected != document.get("manifest_sha256"):
        mismatched.append({"path": MANIFEST_NAME, "reason": "manifest_sha256 does not match its media entries"})
    return PacketCheck(
        folder=folder,
        packet_id=str(document.get("packet_id", "")),
        ledger_revision=str(document.get("ledger_revision", "")),
        checked=checked,
        mismatched=mismatched,
        missing=missing,
        extra=extra,
    )


# ---------------------------------------------------------------------------------------- packet state


@dataclass(frozen=True)
class Snapshot:
    """What one packet showed: a fingerprint per scene and, per clip, its proxy's SHA-256 (None: no proxy)."""

    packet_id: str
    generated_at: str
    scenes: dict[str, str]
    clips: dict[str, str | None]

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(canonical_json({"scenes": self.scenes, "clips": self.clips})).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {"packet_id": self.packet_id, "generated_at": self.generated_at, "scenes": self.scenes,
                "clips": self.clips}

    @classmethod
    def from_json(cls, data: Any) -> Snapshot | None:
        if not isinstance(data, dict):
            return None
        scenes, clips = data.get("scenes"), data.get("clips")
        if not isinstance(scenes, dict) or not isinstance(clips, dict):
            return None
        return cls(str(data.get("packet_id", "")), str(data.get("generated_at", "")), scenes, clips)


@dataclass(frozen=True)
class PacketState:
    """packet-state.json: this packet's snapshot, the one its change marks compare with, and file hashes."""

    current: Snapshot
    baseline: Snapshot | None
    hash_cache: dict[str, tuple[int, int, str]]

    def to_json(self) -> dict[str, Any]:
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
    facts: dict[str, Any] = {}
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

    @property
    def count(self) -> int:
        return len(self.new_scenes) + len(self.changed_scenes) + len(self.new_clips) + len(self.updated_proxies)


def compare(current: Snapshot, since: Snapshot | None) -> Changes:
    """New and changed scenes, new clips and clips whose proxy is new or re-rendered."""
    changes = Changes(since=since)
    if since is None:
        return changes
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


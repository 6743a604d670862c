"""Packet integrity: the manifest of a packet's files, the ledger revision, and verifying a packet folder.

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

What a packet showed, for marking changes in the next one, is `packet-state.json`: see `review.changes`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from review.errors import PacketNotFound
from review.notes import ReviewNote, canonical_json
from review.records import ClipRecord

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
STATE_NAME = "packet-state.json"
MANIFEST_SCHEMA = "docfilm.packet-manifest"
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


def manifest_digest(film: str, as_of: str, revision: str, media: Mapping[str, tuple[int, str]]) -> str:
    """The packet's content hash over film, as-of, ledger revision and media files (path, size, sha256)."""
    body = {
        "film": film,
        "as_of": as_of,
        "ledger_revision": revision,
        "media": [[name, size, sha] for name, (size, sha) in sorted(media.items())],
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def write_json(path: Path, document: Mapping[str, object]) -> None:
    """Sorted UTF-8 JSON, one top-level key a line and one entry a line in its lists and objects (readable and
    diffable; written into a build folder, so no temp name is needed).

    Written with the json module's C encoder, entry by entry: `indent=` would take its pure-Python one, a
    quarter of a second for the manifest of 2,000 clips.
    """
    keys = sorted(document)
    lines = ["{"]
    for n, key in enumerate(keys):
        value, comma = document[key], "," if n < len(keys) - 1 else ""
        if isinstance(value, list) and value:
            body = ",\n".join(f"  {_compact(item)}" for item in value)
            lines.append(f" {_compact(key)}: [\n{body}\n ]{comma}")
        elif isinstance(value, Mapping) and value:
            body = ",\n".join(f"  {_compact(k)}: {_compact(value[k])}" for k in sorted(value))
            lines.append(f" {_compact(key)}: {{\n{body}\n }}{comma}")
        else:
            lines.append(f" {_compact(key)}: {_compact(value)}{comma}")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class ManifestHeader:
    """What manifest.json says of the packet besides its files."""

    packet_id: str
    film: str
    as_of: str
    generated_at: str
    ledger_revision: str
    manifest_sha256: str


def manifest_document(header: ManifestHeader, files: Mapping[str, tuple[int, str]]) -> dict[str, object]:
    """The manifest.json object: header fields and every file with size and sha256, by path."""
    return {
        "schema": MANIFEST_SCHEMA,
        "version": _VERSION,
        **asdict(header),
        "files": [{"path": name, "size": size, "sha256": sha} for name, (size, sha) in sorted(files.items())],
    }


# ----------------------------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Mismatch:
    """A packet file (or the manifest itself) that is not what the manifest says, and how."""

    path: str
    reason: str


@dataclass(frozen=True)
class PacketCheck:
    """What `verify_packet` found; `ok` when nothing is mismatched, missing or extra."""

    folder: Path
    packet_id: str
    ledger_revision: str
    checked: int
    mismatched: list[Mismatch]
    missing: list[str]
    extra: list[str]

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.missing or self.extra)

    def to_json(self) -> dict[str, object]:
        """The `docfilm packet --verify --json` object."""
        return {
            "folder": str(self.folder),
            "packet_id": self.packet_id,
            "ledger_revision": self.ledger_revision,
            "checked": self.checked,
            "mismatched": [asdict(m) for m in self.mismatched],
            "missing": self.missing,
            "extra": self.extra,
            "ok": self.ok,
        }


def _read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a packet folder as parsed JSON (checked field by field by `verify_packet`); PacketNotFound
    when absent or not a docfilm manifest."""
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
    document = _read_manifest(folder)
    listed: dict[str, dict[str, Any]] = {}
    mismatched: list[Mismatch] = []
    for entry in document["files"]:
        name = entry.get("path") if isinstance(entry, dict) else None
        if not _safe_relative(name) or not isinstance(entry.get("sha256"), str):
            mismatched.append(Mismatch(MANIFEST_NAME, f"bad entry {entry!r}"))
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
            mismatched.append(Mismatch(name, f"{size} bytes, manifest says {entry.get('size')}"))
            continue
        sha = file_sha256(path)
        if sha != entry["sha256"]:
            mismatched.append(Mismatch(name, f"sha256 {sha}, manifest says {entry['sha256']}"))
    media = {
        name: (int(e.get("size", -1)), str(e["sha256"])) for name, e in listed.items() if name.startswith("media/")
    }
    film, as_of, revision = (document.get(key) for key in ("film", "as_of", "ledger_revision"))
    if isinstance(film, str) and isinstance(as_of, str) and isinstance(revision, str):
        expected = manifest_digest(film, as_of, revision, media)
    else:
        expected = "(film, as_of or ledger_revision missing)"
    if expected != document.get("manifest_sha256"):
        mismatched.append(Mismatch(MANIFEST_NAME, "manifest_sha256 does not match its media entries"))
    return PacketCheck(
        folder=folder,
        packet_id=str(document.get("packet_id", "")),
        ledger_revision=str(document.get("ledger_revision", "")),
        checked=checked,
        mismatched=mismatched,
        missing=missing,
        extra=extra,
    )

"""ASC MHL v2.0 histories next to each card folder of the library.

Layout (as the ASC MHL specification and its reference implementation, ``ascmhl``, expect)::

    <card>/ascmhl/0001_<card>_<UTC>.mhl   one generation per ingest of the card, never rewritten
    <card>/ascmhl/ascmhl_chain.xml        every generation with the C4 ID of its file

A generation lists the files hashed in that run with their XXH128, the action (``original`` the first time
a path is recorded, ``verified`` when a later run hashed the same bytes again), the hash date, size and
modification time, and who made it (tool, version, host, time). The chain file is replaced (atomically) when
a generation is added; a generation file never is. Writers of one card take an flock on
``ascmhl/.docfilm.lock``, so two ingests of the same card number their generations one after the other.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Literal

from .copying import PARTIAL_SUFFIX, fsync_dir
from .errors import MHLError
from .hashing import c4_bytes, hash_file_as
from .naming import NAME_MAX, fit_name, xml_safe

log = logging.getLogger(__name__)

NS = "urn:ASC:MHL:v2.0"
DIRECTORY_NS = "urn:ASC:MHL:DIRECTORY:v2.0"
FOLDER = "ascmhl"
CHAIN = "ascmhl_chain.xml"
LOCK = ".docfilm.lock"
# ascmhl's defaults (a history that lists patterns replaces them, so they are repeated) and our partial copies.
IGNORE_PATTERNS = (".DS_Store", "ascmhl", "ascmhl/", f"*{PARTIAL_SUFFIX}")
# Preference when one entry carries several formats: the fastest first.
FORMATS = ("xxh128", "xxh3", "xxh64", "xxh32", "md5", "sha1", "c4")
GENERATION_RE = re.compile(r"^(\d{4,})_.+\.mhl$", re.DOTALL)


@dataclass(frozen=True)
class FileHash:
    """One file's hash as a generation records it."""

    path: str  # relative to the card folder, "/"-separated
    fmt: str
    value: str
    size: int | None = None
    modified: datetime | None = None
    hashed_at: datetime | None = None
    action: str | None = None
    generation: int = 0


@dataclass(frozen=True)
class ChainEntry:
    """One generation as the chain file lists it."""

    number: int
    name: str
    fmt: str
    value: str


@dataclass(frozen=True)
class Creator:
    """Who writes a generation."""

    tool: str = "docfilm"
    version: str = field(default_factory=lambda: _version())
    host: str = field(default_factory=socket.gethostname)
    comment: str | None = None


def _version() -> str:
    try:
        return metadata.version("docfilm")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass
class History:
    """The generations of one card folder, read from disk."""

    root: Path
    generations: dict[int, Path] = field(default_factory=dict)
    chain: list[ChainEntry] = field(default_factory=list)
    hashes: list[FileHash] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.root / FOLDER

    @property
    def next_number(self) -> int:
        numbers = list(self.generations) + [c.number for c in self.chain]
        return max(numbers, default=0) + 1

    def paths(self) -> set[str]:
        return {h.path for h in self.hashes}

    def latest(self) -> dict[str, FileHash]:
        """The newest usable hash of every path (a `failed` entry records a bad copy, not the truth)."""
        best: dict[str, FileHash] = {}
        for h in self.hashes:  # in generation order
            if h.action == "failed":
                continue
            old = best.get(h.path)
            if old is None or h.generation > old.generation or (
                h.generation == old.generation and FORMATS.index(h.fmt) < FORMATS.index(old.fmt)
            ):
                best[h.path] = h
        return best

    def problems(self) -> list[HistoryProblem]:
        """Generations that are missing or were modified since the chain recorded them, or never chained."""
        out = []
        chained = set()
        for entry in self.chain:
            chained.add(entry.name)
            path = self.folder / entry.name
            if not path.is_file():
                out.append(HistoryProblem(str(path), "missing", "ASC MHL generation is missing"))
            elif hash_file_as(path, entry.fmt) != entry.value:
                out.append(HistoryProblem(str(path), "mismatched",
                                          f"ASC MHL generation was modified ({entry.fmt} differs from the chain)"))
        for number, path in sorted(self.generations.items()):
            if path.name not in chained:
                out.append(HistoryProblem(str(path), "unchained", f"generation {number} is not in {CHAIN}"))
        return out


@dataclass(frozen=True)
class HistoryProblem:
    """A generation file of a history that is missing, modified since it was chained, or never chained."""

    path: str
    problem: Literal["missing", "mismatched", "unchained"]
    reason: str


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def read_history(root: Path) -> History:
    """Every generation and the chain of a card folder (an empty history when it has none)."""
    history = History(root)
    folder = root / FOLDER
    if not folder.is_dir():
        return history
    for entry in os.scandir(folder):
        m = GENERATION_RE.match(entry.name)
        if m and entry.is_file():
            history.generations[int(m.group(1))] = Path(entry.path)
    chain_file = folder / CHAIN
    if chain_file.is_file():
        history.chain = _read_chain(chain_file)
    for number, path in sorted(history.generations.items()):
        history.hashes.extend(_read_generation(path, number))
    return history


def _read_chain(path: Path) -> list[ChainEntry]:
    try:
        tree = ET.parse(path)
    except ET.ParseError as exc:
        raise MHLError(f"{path}: not a readable ASC MHL chain file ({exc})") from exc
    entries = []
    for el in tree.getroot():
        if _local(el.tag) != "hashlist":
            continue
        name = fmt = value = None
        for child in el:
            tag = _local(child.tag)
            if tag == "path":
                name = child.text
            elif tag in FORMATS:
                fmt, value = tag, (child.text or "").strip()
        if name and fmt and value:
            entries.append(ChainEntry(int(el.get("sequencenr", "0")), name, fmt, value))
    return entries


def _read_generation(path: Path, number: int) -> list[FileHash]:
    try:
        tree = ET.parse(path)
    except ET.ParseError as exc:
        raise MHLError(f"{path}: not a readable ASC MHL file ({exc})") from exc
    out = []
    for hashes in tree.getroot():
        if _local(hashes.tag) != "hashes":
            continue
        for el in hashes:
            if _local(el.tag) != "hash":
                continue  # directory hashes describe folders, not files
            rel = None
            size = None
            modified = None
            found = []
            for child in el:
                tag = _local(child.tag)
                if tag == "path":
                    rel = child.text or ""
                    size_text = child.get("size")
                    size = int(size_text) if size_text else None
                    modified = _date(child.get("lastmodificationdate"))
                elif tag in FORMATS:
                    found.append(((child.text or "").strip(), tag, child.get("action"), _date(child.get("hashdate"))))
            if rel is None:
                continue
            for value, fmt, action, when in found:
                out.append(FileHash(rel, fmt, value, size, modified, when, action, number))
    return out


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the card's history lock (waiting for another writer)."""
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def generation_name(number: int, root: Path, now: datetime) -> str:
    """`0001_<card folder>_<UTC>.mhl`, the name ascmhl gives a generation (kept on one line, ≤ 255 bytes)."""
    card = re.sub(r"\s", "_", xml_safe(root.name)) or "root"
    stamp = now.astimezone(UTC).strftime("%Y-%m-%d_%H%M%SZ")
    head, tail = f"{number:04d}_", f"_{stamp}.mhl"
    budget = NAME_MAX - len(head.encode()) - len(tail.encode())
    return head + fit_name(card, budget) + tail


def _document(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode("utf-8") + b"\n"


def _generation_xml(entries: Sequence[FileHash], creator: Creator, now: datetime, process: str) -> bytes:
    # Unprefixed tags under a default namespace declared on the root, as ascmhl writes them.
    root = ET.Element("hashlist", {"version": "2.0", "xmlns": NS})
    info = ET.SubElement(root, "creatorinfo")
    ET.SubElement(info, "creationdate").text = _iso(now)
    ET.SubElement(info, "hostname").text = xml_safe(creator.host)
    ET.SubElement(info, "tool", {"version": creator.version}).text = creator.tool
    if creator.comment:
        ET.SubElement(info, "comment").text = xml_safe(creator.comment)
    proc = ET.SubElement(root, "processinfo")
    ET.SubElement(proc, "process").text = process
    ignore = ET.SubElement(proc, "ignore")
    for pattern in IGNORE_PATTERNS:
        ET.SubElement(ignore, "pattern").text = pattern
    hashes = ET.SubElement(root, "hashes")
    for e in sorted(entries, key=lambda e: e.path):
        h = ET.SubElement(hashes, "hash")
        attrs = {}
        if e.size is not None:
            attrs["size"] = str(e.size)
        if e.modified is not None:
            attrs["lastmodificationdate"] = _iso(e.modified)
        ET.SubElement(h, "path", attrs).text = e.path
        value_attrs = {}
        if e.action:
            value_attrs["action"] = e.action
        if e.hashed_at is not None:
            value_attrs["hashdate"] = _iso(e.hashed_at)
        ET.SubElement(h, e.fmt, value_attrs).text = e.value
    return _document(root)


def _chain_xml(entries: Sequence[ChainEntry]) -> bytes:
    root = ET.Element("ascmhldirectory", {"xmlns": DIRECTORY_NS})
    for c in sorted(entries, key=lambda c: c.number):
        el = ET.SubElement(root, "hashlist", {"sequencenr": str(c.number)})
        ET.SubElement(el, "path").text = c.name
        ET.SubElement(el, c.fmt).text = c.value
    return _document(root)


def _write_new(path: Path, data: bytes, *, replace: bool) -> None:
    """Write a file under a temporary name, flush it, then give it its name (replacing only when told)."""
    tmp = path.parent / f".{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444 if not replace else 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails rather than replace an existing generation
            os.unlink(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_generation(
    history: History,
    entries: Sequence[FileHash],
    *,
    creator: Creator | None = None,
    now: datetime | None = None,
    process: str = "transfer",
) -> Path:
    """Add one generation with these entries to a card's history (call under `locked`) and update the chain.

    Entries without an action get `original` when the history has never seen their path, else `verified`
    when the hash equals the newest recorded one, else `failed`.
    """
    if not entries:
        raise MHLError(f"{history.root}: a generation needs at least one file")
    now = now or datetime.now(UTC)
    creator = creator or Creator()
    latest = history.latest()
    resolved = []
    for e in entries:
        if e.action is None:
            old = latest.get(e.path)
            if old is None:
                action = "original"
            else:
                same = old.value == (e.value if old.fmt == e.fmt else hash_file_as(history.root / e.path, old.fmt))
                action = "verified" if same else "failed"
            e = FileHash(e.path, e.fmt, e.value, e.size, e.modified, e.hashed_at or now, action)
        resolved.append(e)
    number = history.next_number
    history.folder.mkdir(parents=True, exist_ok=True)
    name = generation_name(number, history.root, now)
    path = history.folder / name
    _write_new(path, _generation_xml(resolved, creator, now, process), replace=False)
    chain = list(history.chain)
    chained = {c.name for c in chain}
    # A generation written by a run that died before it could update the chain is chained now.
    for n, p in sorted(history.generations.items()):
        if p.name not in chained:
            chain.append(ChainEntry(n, p.name, "c4", c4_bytes(p.read_bytes())))
    chain.append(ChainEntry(number, name, "c4", c4_bytes(path.read_bytes())))
    _write_new(history.folder / CHAIN, _chain_xml(chain), replace=True)
    history.generations[number] = path
    history.chain = chain
    history.hashes.extend(FileHash(e.path, e.fmt, e.value, e.size, e.modified, e.hashed_at, e.action, number)
                          for e in resolved)
    log.info("wrote ASC MHL generation %s (%d files)", path, len(resolved))
    return path

"""Re-hash the library: every master against the ledger, every card folder against its ASC MHL history."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Literal

from core.jsontypes import JsonObject

from . import mhl
from .errors import MHLError
from .hashing import Digest, digest_file, hash_file_as
from .ledger import Ledger

Record = Literal["ledger", "ascmhl"]  # what a file was checked against


@dataclass(frozen=True)
class HashDifference:
    """A hash a record expected of a file and the one its bytes give now, in one format (sha256, xxh128, …)."""

    fmt: str
    expected: str
    found: str


@dataclass(frozen=True)
class FileFinding:
    """One file found wrong (mismatched) or gone (missing), against every record that says so.

    `generation` is the ASC MHL generation whose hash was checked; `differences` the hashes that differ.
    """

    path: str
    against: tuple[Record, ...]
    asset_id: str | None = None
    reason: str | None = None
    generation: int | None = None
    differences: tuple[HashDifference, ...] = ()

    def to_json(self) -> JsonObject:
        item: JsonObject = {"path": self.path, "asset_id": self.asset_id, "against": list(self.against)}
        if self.reason is not None:
            item["reason"] = self.reason
        if self.generation is not None:
            item["generation"] = self.generation
        for d in self.differences:
            item.setdefault(f"expected_{d.fmt}", d.expected)
            item.setdefault(f"found_{d.fmt}", d.found)
        return item


@dataclass(frozen=True)
class VerifyReport:
    """What `docfilm verify` found: files checked, mismatched and missing, files no generation lists."""

    checked: int
    mismatched: tuple[FileFinding, ...]
    missing: tuple[FileFinding, ...]
    unlisted: tuple[str, ...]  # in a card folder, listed by no ASC MHL generation (new files, not a loss)
    histories: int  # card folders with an ASC MHL history

    @property
    def ok(self) -> bool:
        return not self.mismatched and not self.missing

    def to_json(self) -> JsonObject:
        return {
            "checked": self.checked,
            "mismatched": [f.to_json() for f in self.mismatched],
            "missing": [f.to_json() for f in self.missing],
            "unlisted": list(self.unlisted),
            "histories": self.histories,
        }


@dataclass
class _Findings:
    """Every file checked, and each problem once per file, whichever records it found wrong."""

    checked: set[str] = field(default_factory=set)
    mismatched: dict[str, FileFinding] = field(default_factory=dict)
    missing: dict[str, FileFinding] = field(default_factory=dict)
    unlisted: list[str] = field(default_factory=list)

    @staticmethod
    def _merge(old: FileFinding | None, new: FileFinding, keep_first: bool) -> FileFinding:
        """One finding per file: records accumulate; facts already known stay (mismatch) or are updated (lost)."""
        if old is None:
            return new
        against = old.against if new.against[0] in old.against else (*old.against, *new.against)
        pick = (lambda a, b: a if a is not None else b) if keep_first else (lambda a, b: b if b is not None else a)
        return replace(old, against=against, asset_id=pick(old.asset_id, new.asset_id),
                       reason=pick(old.reason, new.reason), generation=pick(old.generation, new.generation),
                       differences=(*old.differences, *new.differences))

    def mismatch(self, finding: FileFinding) -> None:
        self.mismatched[finding.path] = self._merge(self.mismatched.get(finding.path), finding, keep_first=True)

    def lost(self, finding: FileFinding) -> None:
        self.missing[finding.path] = self._merge(self.missing.get(finding.path), finding, keep_first=False)


def verify_library(ledger: Ledger, library: Path | None = None) -> VerifyReport:
    """Check the library and report, never raise.

    Every asset's master is re-hashed (SHA-256 and XXH128 in one read) against the ledger. Every card folder of
    `library` with an ``ascmhl`` history has its generations checked against the chain, and each file its
    history lists is compared with the newest hash recorded for it (masters are not read twice). A file wrong
    against both the ledger and the MHL is reported once, with both in `against`.
    """
    found = _Findings()
    digests: dict[str, Digest] = {}
    for a in ledger.assets():
        try:
            d = digest_file(Path(a.path))
        except FileNotFoundError:
            found.lost(FileFinding(a.path, ("ledger",), asset_id=a.asset_id))
            continue
        except OSError as exc:
            found.lost(FileFinding(a.path, ("ledger",), asset_id=a.asset_id, reason=exc.strerror))
            continue
        found.checked.add(a.path)
        digests[a.path] = d
        if d.sha256 != a.sha256 or d.xxh128 != a.xxh128:
            found.mismatch(FileFinding(a.path, ("ledger",), asset_id=a.asset_id,
                                       differences=(HashDifference("sha256", a.sha256, d.sha256),)))
    histories = 0
    if library is not None and library.is_dir():
        for card in sorted(p for p in library.iterdir() if (p / mhl.FOLDER).is_dir()):
            histories += 1
            _verify_card(card, digests, found)
    return VerifyReport(
        checked=len(found.checked),
        mismatched=tuple(found.mismatched.values()),
        missing=tuple(found.missing.values()),
        unlisted=tuple(found.unlisted),
        histories=histories,
    )


def _verify_card(card: Path, digests: dict[str, Digest], found: _Findings) -> None:
    try:
        history = mhl.read_history(card)
    except MHLError as exc:
        found.mismatch(FileFinding(str(card / mhl.FOLDER), ("ascmhl",), reason=str(exc)))
        return
    for problem in history.problems():
        if problem.problem == "missing":
            found.lost(FileFinding(problem.path, ("ascmhl",), reason=problem.reason))
        elif problem.problem == "mismatched":
            found.mismatch(FileFinding(problem.path, ("ascmhl",), reason=problem.reason))
    latest = history.latest()
    for rel, record in sorted(latest.items()):
        path = str(card.joinpath(*PurePosixPath(rel).parts))
        if path in found.missing:
            found.lost(FileFinding(path, ("ascmhl",)))
            continue
        if record.fmt == "xxh128" and path in digests:
            value = digests[path].xxh128
        else:
            try:
                value = hash_file_as(Path(path), record.fmt)
            except FileNotFoundError:
                found.lost(FileFinding(path, ("ascmhl",), generation=record.generation))
                continue
            except OSError as exc:
                found.lost(FileFinding(path, ("ascmhl",), reason=exc.strerror))
                continue
        found.checked.add(path)
        if value != record.value:
            found.mismatch(FileFinding(path, ("ascmhl",), generation=record.generation,
                                       differences=(HashDifference(record.fmt, record.value, value),)))
    for folder, dirs, files in os.walk(card):
        dirs[:] = [d for d in dirs if not (folder == str(card) and d == mhl.FOLDER)]
        for name in files:
            rel = Path(folder, name).relative_to(card).as_posix()
            if rel not in latest and not any(fnmatch.fnmatch(name, p) for p in mhl.IGNORE_PATTERNS):
                found.unlisted.append(str(Path(folder, name)))

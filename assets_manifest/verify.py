"""Re-hash the library: every master against the ledger, every card folder against its ASC MHL history."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path, PurePosixPath
from typing import Any

from . import mhl
from .errors import MHLError
from .hashing import Digest, digest_file, hash_file_as
from .ledger import Ledger


class _Findings:
    """Every file checked, and each problem once per file, whichever records it found wrong."""

    def __init__(self) -> None:
        self.checked: set[str] = set()
        self.mismatched: dict[str, dict[str, Any]] = {}
        self.missing: dict[str, dict[str, Any]] = {}
        self.unlisted: list[str] = []

    def mismatch(self, path: str, against: str, **facts: Any) -> None:
        item = self.mismatched.setdefault(path, {"path": path, "asset_id": None, "against": []})
        item["against"].append(against)
        for key, value in facts.items():
            item.setdefault(key, value)

    def lost(self, path: str, against: str, **facts: Any) -> None:
        item = self.missing.setdefault(path, {"path": path, "asset_id": None, "against": []})
        if against not in item["against"]:
            item["against"].append(against)
        for key, value in facts.items():
            if value is not None:
                item[key] = value


def verify_library(ledger: Ledger, library: Path | None = None) -> dict[str, Any]:
    """Check the library and report, never raise: `{"checked", "mismatched", "missing", "unlisted", "histories"}`.

    Every asset's master is re-hashed (SHA-256 and XXH128 in one read) against the ledger. Every card folder of
    `library` with an ``ascmhl`` history has its generations checked against the chain, and each file its
    history lists is compared with the newest hash recorded for it (masters are not read twice). A file wrong
    against both the ledger and the MHL is reported once, with both in `against`. `unlisted` names files in a
    card folder that no generation lists (ascmhl counts them as new files; they are not a loss).
    """
    found = _Findings()
    digests: dict[str, Digest] = {}
    for a in ledger.assets():
        try:
            d = digest_file(Path(a.path))
        except FileNotFoundError:
            found.lost(a.path, "ledger", asset_id=a.asset_id)
            continue
        except OSError as exc:
            found.lost(a.path, "ledger", asset_id=a.asset_id, reason=exc.strerror)
            continue
        found.checked.add(a.path)
        digests[a.path] = d
        if d.sha256 != a.sha256 or d.xxh128 != a.xxh128:
            found.mismatch(a.path, "ledger", asset_id=a.asset_id, expected_sha256=a.sha256, found_sha256=d.sha256)
    histories = 0
    if library is not None and library.is_dir():
        for card in sorted(p for p in library.iterdir() if (p / mhl.FOLDER).is_dir()):
            histories += 1
            _verify_card(card, digests, found)
    return {
        "checked": len(found.checked),
        "mismatched": list(found.mismatched.values()),
        "missing": list(found.missing.values()),
        "unlisted": found.unlisted,
        "histories": histories,
    }


def _verify_card(card: Path, digests: dict[str, Digest], found: _Findings) -> None:
    try:
        history = mhl.read_history(card)
    except MHLError as exc:
        found.mismatch(str(card / mhl.FOLDER), "ascmhl", reason=str(exc))
        return
    for problem in history.problems():
        if problem["problem"] == "missing":
            found.lost(problem["path"], "ascmhl", reason=problem["reason"])
        elif problem["problem"] == "mismatched":
            found.mismatch(problem["path"], "ascmhl", reason=problem["reason"])
    latest = history.latest()
    for rel, record in sorted(latest.items()):
        path = str(card.joinpath(*PurePosixPath(rel).parts))
        if path in found.missing:
            found.lost(path, "ascmhl")
            continue
        if record.fmt == "xxh128" and path in digests:
            value = digests[path].xxh128
        else:
            try:
                value = hash_file_as(Path(path), record.fmt)
            except FileNotFoundError:
                found.lost(path, "ascmhl", generation=record.generation)
                continue
            except OSError as exc:
                found.lost(path, "ascmhl", reason=exc.strerror)
                continue
        found.checked.add(path)
        if value != record.value:
            found.mismatch(path, "ascmhl", generation=record.generation,
                           **{f"expected_{record.fmt}": record.value, f"found_{record.fmt}": value})
    for folder, dirs, files in os.walk(card):
        dirs[:] = [d for d in dirs if not (folder == str(card) and d == mhl.FOLDER)]
        for name in files:
            rel = Path(folder, name).relative_to(card).as_posix()
            if rel not in latest and not any(fnmatch.fnmatch(name, p) for p in mhl.IGNORE_PATTERNS):
                found.unlisted.append(str(Path(folder, name)))

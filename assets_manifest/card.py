"""A card folder of the library during one ingest: the files proved in it and its ASC MHL generation."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import mhl
from .copying import fsync_dir
from .errors import CopyFailed, MHLError
from .hashing import xxh128_file
from .naming import numbered
from .store import Asset

log = logging.getLogger(__name__)

__all__ = ["CardFolder"]


@dataclass
class CardFolder:
    """A card folder of the library and the files this run hashed in it (for its ASC MHL generation)."""

    root: Path
    source: str
    hashed: dict[str, mhl.FileHash] = field(default_factory=dict)
    folders: set[Path] = field(default_factory=set)  # where this run linked copies: flushed once, at the end

    def record(self, path: Path, xxh128: str, size: int) -> None:
        """A library file of this card whose bytes this run proved (copied and read back, or adopted)."""
        rel = path.relative_to(self.root).as_posix()
        modified = datetime.fromtimestamp(os.stat(path).st_mtime_ns / 1e9, UTC)
        self.hashed[rel] = mhl.FileHash(rel, "xxh128", xxh128, size, modified, datetime.now(UTC))

    def forget(self, path: Path) -> None:
        self.hashed.pop(path.relative_to(self.root).as_posix(), None)

    def sync_folders(self) -> None:
        """Flush the folders this run linked copies into since the last time (their new names survive a power cut)."""
        for folder in sorted(self.folders):
            try:
                fsync_dir(folder)
            except OSError as exc:
                raise CopyFailed(f"cannot flush the library folder {folder}: {exc.strerror or exc}") from exc
        self.folders.clear()

    @staticmethod
    def free_name(target: Path) -> Path:
        """`clip (2).mov`, `clip (3).mov`, …: the first name next to `target` nobody uses."""
        n = 2
        while os.path.lexists(candidate := target.with_name(numbered(target.name, n))):
            n += 1
        return candidate

    def write_generation(self, recorded: Callable[[], Iterable[Asset]]) -> Path | None:
        """The card's new ASC MHL generation: the files this run hashed, and the `recorded` masters under the
        card (the ledger's) that its history lacks, hashed now. Returns its path; None when there was nothing to
        list or it could not be written (logged: the copies and the ledger stand without it)."""
        try:
            with mhl.locked(self.root):
                history = mhl.read_history(self.root)
                entries = dict(self.hashed)
                listed = history.paths()
                for asset in recorded():
                    rel = Path(asset.path).relative_to(self.root).as_posix()
                    if rel in listed or rel in entries:
                        continue
                    # A master whose run stopped before it wrote its generation: hash it now.
                    try:
                        xxh, size = xxh128_file(Path(asset.path), uncached=True)
                        mtime_ns = os.stat(asset.path).st_mtime_ns
                    except OSError as exc:
                        log.error("cannot hash %s for its ASC MHL generation: %s", asset.path, exc.strerror)
                        continue
                    if xxh != asset.xxh128 or size != asset.size:
                        log.error("%s no longer holds the bytes the ledger recorded: left out of the ASC MHL",
                                  asset.path)
                        continue
                    entries[rel] = mhl.FileHash(rel, "xxh128", xxh, size, datetime.fromtimestamp(mtime_ns / 1e9, UTC),
                                                datetime.now(UTC))
                if not entries:
                    return None
                creator = mhl.Creator(comment=f"docfilm ingest of {self.source}")
                path = mhl.write_generation(history, list(entries.values()), creator=creator)
        except (MHLError, OSError) as exc:
            log.error("no ASC MHL generation for %s: %s", self.root, exc)
            return None
        return path

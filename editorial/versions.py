"""Versions of a film's cut: immutable .otio files named by their content hash, the current one in the ledger."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import opentimelineio as otio

from .errors import NoCut

if TYPE_CHECKING:
    from assets_manifest.ledger import Ledger
    from assets_manifest.store import CutVersionRow

Origin = Literal["assembled", "imported"]
METADATA_KEY = "docfilm"  # every docfilm value in OTIO metadata lives under this key


@dataclass(frozen=True)
class CutVersion:
    """One stored version of a film's cut."""

    film_id: str
    version: int
    path: Path
    sha256: str
    origin: str
    source_path: str | None
    source_sha256: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: CutVersionRow) -> CutVersion:
        return cls(row.film_id, row.version, Path(row.path), row.sha256, row.origin, row.source_path,
                   row.source_sha256, row.created_at)


def cuts_dir(home: Path, film_id: str) -> Path:
    """Where a film's cut versions live: DOCFILM_HOME/cuts/<film id>/."""
    return home / "cuts" / film_id


def save_cut(
    timeline: otio.schema.Timeline,
    ledger: Ledger,
    home: Path,
    film_id: str,
    origin: Origin,
    source: Path | None = None,
    source_sha256: str | None = None,
) -> tuple[CutVersion, bool]:
    """Write the timeline as a new version unless it is byte for byte the current one; (version, new?).

    The file is named by its SHA-256, written to a temporary name and renamed, and never rewritten.
    """
    from assets_manifest.store import CutVersionRow

    text = otio.adapters.write_to_string(timeline, "otio_json")
    data = text.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    current = ledger.current_cut(film_id)
    if current is not None and current.sha256 == digest and Path(current.path).is_file():
        return CutVersion.of(current), False
    folder = cuts_dir(home, film_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest[:16]}.otio"
    if not path.is_file():
        write_new_file(path, data)
        path.chmod(0o444)
    row = ledger.add_cut_version(CutVersionRow(
        film_id=film_id, version=0, path=str(path), sha256=digest, origin=origin,
        source_path=str(source) if source is not None else None, source_sha256=source_sha256,
    ))
    return CutVersion.of(row), True


def current_cut(ledger: Ledger, film_id: str) -> tuple[CutVersion, otio.schema.Timeline]:
    """The film's current cut and its timeline; NoCut before the first."""
    row = ledger.current_cut(film_id)
    if row is None:
        raise NoCut(f"film {film_id} has no cut yet: `docfilm cut assemble` makes the string-out, "
                    "`docfilm cut import FILE` takes the editor's")
    timeline = otio.adapters.read_from_file(row.path, "otio_json")
    return CutVersion.of(row), timeline


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_new_file(path: Path, data: bytes) -> None:
    """Write `data` to a temporary name beside `path`, then rename it there: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""What one ingest did, file by file: the records ingest returns and the `--json` they make.

A file is in exactly one list: `ingested` (a new asset), `duplicates` (bytes the library already holds),
`quarantined` (its bytes are not usable media, or its copy kept reading back wrong: a person must look at it)
or `failed` (the machine could not copy it: a full library disk, a source that vanished or cannot be read;
the file itself may be fine, and a later ingest with room ingests it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core.jsontypes import JsonObject
from core.vocabulary import MediaKind

from .store import Asset


@dataclass(frozen=True)
class IngestedItem:
    """A file recorded as a new asset. `path` is the source as given, `library_path` its master (None in place)."""

    path: str
    library_path: str | None
    asset_id: str
    sha256: str
    xxh128: str
    kind: MediaKind
    duration_frames: int | None
    fps: str | None  # "num/den", e.g. "25/1" or "30000/1001"
    width: int | None
    height: int | None
    rotation: int
    start_timecode: str | None
    scene: str | None
    shot: str | None
    field_order: str
    vfr: bool
    audio_tracks: int

    @classmethod
    def from_asset(cls, asset: Asset, source: str | None = None, library_path: str | None = None) -> IngestedItem:
        """The item for a stored asset; `source` defaults to the asset's master path."""
        return cls(
            path=source or asset.path,
            library_path=library_path,
            asset_id=asset.asset_id,
            sha256=asset.sha256,
            xxh128=asset.xxh128,
            kind=asset.kind,
            duration_frames=asset.duration_frames,
            fps=asset.fps,
            width=asset.width,
            height=asset.height,
            rotation=asset.rotation,
            start_timecode=asset.start_timecode,
            scene=asset.scene_id,
            shot=asset.shot_id,
            field_order=asset.field_order,
            vfr=asset.vfr,
            audio_tracks=asset.audio_tracks,
        )

    def to_json(self) -> JsonObject:
        return asdict(self)


@dataclass(frozen=True)
class DuplicateItem:
    """A file whose bytes are already an asset: recorded as a sighting, not copied again.

    `repaired` when the asset's master had vanished and this file's verified copy became its master.
    """

    path: str
    asset_id: str
    library_path: str  # the asset's master
    repaired: bool = False

    def to_json(self) -> JsonObject:
        item: JsonObject = {"path": self.path, "asset_id": self.asset_id, "duplicate_of": self.library_path,
                            "library_path": self.library_path}
        if self.repaired:
            item["repaired"] = True
        return item


@dataclass(frozen=True)
class QuarantinedItem:
    """A file whose bytes cannot be used as media, with the reason; `library_path` when it was still copied."""

    path: str
    reason: str
    library_path: str | None = None

    def to_json(self) -> JsonObject:
        item: JsonObject = {"path": self.path, "reason": self.reason}
        if self.library_path is not None:
            item["library_path"] = self.library_path
        return item


@dataclass(frozen=True)
class FailedItem:
    """A file the machine could not copy or read, with the OS's reason; nothing of it was kept or recorded."""

    path: str
    reason: str

    def to_json(self) -> JsonObject:
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True)
class IngestReport:
    """Every file one ingest saw, each in one list, and the ASC MHL generations it wrote."""

    ingested: tuple[IngestedItem, ...] = ()
    duplicates: tuple[DuplicateItem, ...] = ()
    quarantined: tuple[QuarantinedItem, ...] = ()
    failed: tuple[FailedItem, ...] = ()
    mhl: tuple[str, ...] = ()

    @property
    def seen(self) -> int:
        return len(self.ingested) + len(self.duplicates) + len(self.quarantined) + len(self.failed)

    @property
    def complete(self) -> bool:
        """Nothing quarantined and nothing failed."""
        return not self.quarantined and not self.failed

    def to_json(self) -> JsonObject:
        """The `docfilm ingest --json` object."""
        return {
            "ingested": [x.to_json() for x in self.ingested],
            "duplicates": [x.to_json() for x in self.duplicates],
            "quarantined": [x.to_json() for x in self.quarantined],
            "failed": [x.to_json() for x in self.failed],
            "mhl_generations": list(self.mhl),
        }

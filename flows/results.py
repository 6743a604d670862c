"""What the flows and steps return: frozen records with named fields, made into JSON only at the edge.

Each record has one `to_json()`, giving the keys DESIGN.md lists for its `--json` output (and those it had
before it was a record); the CLI prints from the records' fields and emits `to_json()` for `--json`. A flow
returns the record itself (Prefect keeps no result here: PREFECT_RESULTS_PERSIST_BY_DEFAULT is off, and a
persisted result would be pickled). No Prefect here: `status`, `show` and flows.uptodate use these too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from core.jsontypes import JsonObject

if TYPE_CHECKING:  # types only: `status` and a render with nothing stale import this without SQLAlchemy
    from assets_manifest.report import FailedItem, IngestReport
    from assets_manifest.verify import VerifyReport
    from delivery.records import ObjectsReport, UploadResult
    from editorial.conform import ConformedEvent
    from editorial.resolve import Resolution
    from editorial.review import CutQc

    from .farm_steps import LeasedRender
    from .masters_steps import MasterStored


# ---------------------------------------------------------------- ingest
@dataclass(frozen=True)
class IngestRun:
    """An ingest flow's result: the ingest report (its `failed` including masters S3 did not take) and, when
    masters live in S3, what was stored there (None otherwise: no `masters` key)."""

    report: IngestReport
    masters: tuple[MasterStored, ...] | None = None

    @property
    def problems(self) -> int:
        return len(self.report.quarantined) + len(self.report.failed)

    def with_failures(self, failed: tuple[FailedItem, ...]) -> IngestRun:
        from assets_manifest.report import IngestReport

        return IngestRun(IngestReport(self.report.ingested, self.report.duplicates, self.report.quarantined,
                                      self.report.failed + failed, self.report.mhl), self.masters)

    def to_json(self) -> JsonObject:
        """`ingest --json`: {"ingested", "duplicates", "quarantined", "failed", "mhl_generations"} (+ "masters")."""
        data = self.report.to_json()
        if self.masters is not None:
            data["masters"] = [m.to_json() for m in self.masters]
        return data


# ---------------------------------------------------------------- render
@dataclass(frozen=True)
class RenderedProxy:
    """One proxy rendered by this run; `qc` is its QC record's JSON as the ledger stores it (renders'
    QcRecord.to_json). On the farm, `worker` made it and `key` is the proxy's S3 key."""

    asset_id: str
    name: str
    proxy: str
    poster: str
    contact_sheet: str | None
    qc: JsonObject
    worker: str | None = None
    key: str | None = None

    @property
    def flags(self) -> list[Mapping[str, object]]:
        """The QC flags as stored (a record's JSON, or an older flag's text)."""
        flags = self.qc.get("flags")
        return [f for f in flags if isinstance(f, Mapping)] if isinstance(flags, list) else []

    def to_json(self) -> JsonObject:
        data: JsonObject = {"asset_id": self.asset_id, "name": self.name, "proxy": self.proxy, "poster": self.poster,
                            "contact_sheet": self.contact_sheet, "qc": self.qc}
        if self.worker is not None:
            data |= {"worker": self.worker, "key": self.key}
        return data


@dataclass(frozen=True)
class RenderFailure:
    """One asset not rendered, with the reason."""

    asset_id: str
    name: str
    reason: str | None

    def to_json(self) -> JsonObject:
        return {"asset_id": self.asset_id, "name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class FarmFacts:
    """What a farm render adds: assets another planner reserved, time to submit, flow runs submitted."""

    elsewhere: int
    submitted_in: float | None = None
    flow_runs: int | None = None


@dataclass(frozen=True)
class RenderRun:
    """A render (local or on the farm): what was rendered, how many were up to date, what failed.

    `seconds` is the flow's own wall time (None when it rendered nothing).
    """

    rendered: tuple[RenderedProxy, ...] = ()
    skipped: int = 0
    failed: tuple[RenderFailure, ...] = ()
    seconds: float | None = None
    farm: FarmFacts | None = None

    def to_json(self) -> JsonObject:
        """`render --json`: {"rendered": [{"asset_id", "proxy", "poster", "qc", ...}], "skipped", "failed"}."""
        data: JsonObject = {"rendered": [r.to_json() for r in self.rendered], "skipped": self.skipped,
                            "failed": [f.to_json() for f in self.failed]}
        if self.farm is not None:
            data["elsewhere"] = self.farm.elsewhere
        if self.seconds is not None:
            data["seconds"] = self.seconds
        if self.farm is not None and self.farm.submitted_in is not None:
            data |= {"submitted_in": self.farm.submitted_in, "flow_runs": self.farm.flow_runs}
        return data


# ---------------------------------------------------------------- upload
@dataclass(frozen=True)
class UploadFailure:
    """One object not uploaded, with the reason."""

    key: str
    reason: str

    def to_json(self) -> JsonObject:
        return {"key": self.key, "reason": self.reason}


@dataclass(frozen=True)
class UploadRun:
    """An upload: the objects sent, how many were already verified in S3, what failed."""

    uploaded: tuple[UploadResult, ...] = ()
    skipped: int = 0
    failed: tuple[UploadFailure, ...] = ()

    def to_json(self) -> JsonObject:
        """`upload --json`: {"uploaded": [{"key", "bytes", "checksum"}], "skipped", "failed": [{"key", "reason"}]}."""
        return {"uploaded": [u.to_json() for u in self.uploaded], "skipped": self.skipped,
                "failed": [f.to_json() for f in self.failed]}


# ---------------------------------------------------------------- packet
@dataclass(frozen=True)
class PublishedPacket:
    """The hosted copy's upload: its presigned URL (None when something failed), until when, what was sent."""

    url: str | None
    expires: str | None
    uploaded: tuple[UploadResult, ...] = ()
    skipped: int = 0
    failed: tuple[UploadFailure, ...] = ()
    linked: int = 0  # media linked to the proxies/ objects render workers stored, not copied


@dataclass(frozen=True)
class PacketRun:
    """A packet build (and its hosted copy); `unchanged` when flows.uptodate showed the kept build current."""

    path: str
    zip: str
    scenes: int
    assets: int
    as_of: str
    packet_id: str
    manifest: str
    changes: int
    notes: int
    hosted_url: str | None = None
    expires: str | None = None
    hosted_uploaded: int = 0
    hosted_skipped: int = 0
    hosted_error: str | None = None
    unchanged: bool = False

    def to_json(self) -> JsonObject:
        """`packet --json`: {"path", "scenes", "assets", "as_of"} and the build's and hosted copy's facts."""
        data: JsonObject = {
            "path": self.path, "zip": self.zip, "scenes": self.scenes, "assets": self.assets, "as_of": self.as_of,
            "hosted_url": self.hosted_url, "expires": self.expires, "packet_id": self.packet_id,
            "manifest": self.manifest, "changes": self.changes, "notes": self.notes,
            "hosted_uploaded": self.hosted_uploaded, "hosted_skipped": self.hosted_skipped,
            "hosted_error": self.hosted_error,
        }
        if self.unchanged:
            data["unchanged"] = True
        return data


# ---------------------------------------------------------------- facts
@dataclass(frozen=True)
class FactsSummary:
    """The figures' check in counts, as `run --json` and the nightly run give it under `facts`."""

    figures: int
    not_sourced: int
    counts: Mapping[str, int]

    def to_json(self) -> JsonObject:
        return {"figures": self.figures, "not_sourced": self.not_sourced, "counts": dict(self.counts)}


# ---------------------------------------------------------------- verify
@dataclass(frozen=True)
class VerifyRun:
    """`verify`: the library's masters against the ledger and ASC MHL, and the uploaded objects when there are."""

    library: VerifyReport
    objects: ObjectsReport | None = None

    @property
    def ok(self) -> bool:
        objects = self.objects
        return self.library.ok and (objects is None or not (objects.mismatched or objects.missing))

    def to_json(self) -> JsonObject:
        """`verify --json`: {"checked", "mismatched", "missing", ...} (+ "objects" when anything was uploaded)."""
        data = self.library.to_json()
        if self.objects is not None:
            data["objects"] = self.objects.to_json()
        return data


# ---------------------------------------------------------------- the cut
@dataclass(frozen=True)
class CutScene:
    """One scene of the string-out: its frames, takes and missing-media slates."""

    scene: str
    frames: int
    takes: int
    slates: int

    def to_json(self) -> JsonObject:
        return {"scene": self.scene, "frames": self.frames, "takes": self.takes, "slates": self.slates}


@dataclass(frozen=True)
class CutAssembly:
    """`cut assemble`: the string-out saved as the current cut (`new`) or found identical to it."""

    path: str
    version: int
    new: bool
    sha256: str
    frames: int
    fps: str
    scenes: tuple[CutScene, ...]
    events: int
    slates: int

    def to_json(self) -> JsonObject:
        return {"path": self.path, "version": self.version, "new": self.new, "sha256": self.sha256,
                "frames": self.frames, "fps": self.fps, "scenes": [s.to_json() for s in self.scenes],
                "events": self.events, "slates": self.slates}


@dataclass(frozen=True)
class Unresolved:
    """An event of a cut not conformed to the ledger (kept as a missing-media slate), with the reason."""

    event: int
    name: str
    reason: str

    def to_json(self) -> JsonObject:
        return {"event": self.event, "name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class CutImport:
    """`cut import`: the editor's timeline conformed and saved as the current cut (`resolved`: each event's match
    and source range, editorial.conform's records)."""

    path: str
    version: int
    new: bool
    sha256: str
    source: str
    source_sha256: str | None
    frames: int
    fps: str
    start_frame: int
    resolved: tuple[ConformedEvent, ...]
    unresolved: tuple[Unresolved, ...]
    scenes: tuple[str, ...]
    failed: bool  # some events could not be conformed (not generators)

    def to_json(self) -> JsonObject:
        return {"path": self.path, "version": self.version, "new": self.new, "sha256": self.sha256,
                "source": self.source, "source_sha256": self.source_sha256, "frames": self.frames, "fps": self.fps,
                "start_frame": self.start_frame, "events": len(self.resolved) + len(self.unresolved),
                "resolved": [asdict(e) for e in self.resolved], "unresolved": [u.to_json() for u in self.unresolved],
                "scenes": list(self.scenes)}


@dataclass(frozen=True)
class SegmentRun:
    """One segment of the review cut: its scene, frames and whether this run rendered it."""

    scene: str
    frames: int
    rendered: bool

    def to_json(self) -> JsonObject:
        return {"scene": self.scene, "frames": self.frames, "rendered": self.rendered}


@dataclass(frozen=True)
class CutRender:
    """`cut render`: the review cut of the current cut version, where its files are and its QC."""

    path: str
    poster: str
    version: int
    frames: int
    fps: str
    start_timecode: str | None
    events: int
    resolved: int
    unresolved: tuple[Unresolved, ...]
    segments: tuple[SegmentRun, ...]
    chapters: str
    subtitles: Mapping[str, str]
    qc: CutQc
    render_seconds: float
    speed: float | None

    def to_json(self) -> JsonObject:
        return {"path": self.path, "poster": self.poster, "version": self.version, "frames": self.frames,
                "fps": self.fps, "start_timecode": self.start_timecode, "events": self.events,
                "resolved": self.resolved, "unresolved": [u.to_json() for u in self.unresolved],
                "segments": [s.to_json() for s in self.segments], "chapters": self.chapters,
                "subtitles": dict(self.subtitles), "qc": self.qc.to_json(), "render_seconds": self.render_seconds,
                "speed": self.speed}


@dataclass(frozen=True)
class CutStage:
    """The review cut in a pipeline run: rendered (`render`), or why not (up to date, no cut yet, an error)."""

    rendered: bool
    version: int | None
    reason: str | None = None
    error: bool = False
    render: CutRender | None = None

    def to_json(self) -> JsonObject:
        """{"rendered": true, ...the cut render's keys} or {"rendered": false, "version", "reason"} (+ "error")."""
        if self.render is not None:
            return {"rendered": True} | self.render.to_json()
        data: JsonObject = {"rendered": False, "version": self.version, "reason": self.reason}
        if self.error:
            data["error"] = True
        return data


# ---------------------------------------------------------------- pipeline
@dataclass(frozen=True)
class PipelineRun:
    """`run`, `demo` and the nightly run: each stage's result (`ingest` None for the nightly run)."""

    render: RenderRun
    cut: CutStage
    upload: UploadRun
    packet: PacketRun
    facts: FactsSummary
    ingest: IngestRun | None = None

    def to_json(self) -> JsonObject:
        """`run --json`: {"ingest", "render", "cut", "upload", "packet", "facts"}, each its stage's object."""
        data: JsonObject = {} if self.ingest is None else {"ingest": self.ingest.to_json()}
        return data | {"render": self.render.to_json(), "cut": self.cut.to_json(), "upload": self.upload.to_json(),
                       "packet": self.packet.to_json(), "facts": self.facts.to_json()}


# ---------------------------------------------------------------- farm
@dataclass(frozen=True)
class FarmBatch:
    """A render-asset flow run on a farm worker: what it did with each asset it was given or took."""

    worker: str
    assets: tuple[LeasedRender, ...]

    def to_json(self) -> JsonObject:
        return {"worker": self.worker, "assets": [a.to_json() for a in self.assets]}


# ---------------------------------------------------------------- reviewers' notes
@dataclass(frozen=True)
class SceneReview:
    """A scene a notes file touched, and where its review stands now."""

    id: str
    review: str

    def to_json(self) -> JsonObject:
        return {"id": self.id, "review": self.review}


@dataclass(frozen=True)
class FilmNote:
    """A note taken on the film: the cut version it was taken on and what is under its frame (None: past the end)."""

    id: str
    cut_version: int
    under: Resolution | None

    def to_json(self) -> JsonObject:
        return {"id": self.id, "cut_version": self.cut_version} | (self.under.to_json() if self.under else {})


@dataclass(frozen=True)
class NotesImport:
    """`notes import`: a reviewer's notes file taken into the ledger (`already`: notes it held before)."""

    file: str
    reviewer: str
    packet_id: str | None
    notes: int
    imported: int
    scenes: tuple[SceneReview, ...]
    on_film: tuple[FilmNote, ...]

    @property
    def already(self) -> int:
        return self.notes - self.imported

    def to_json(self) -> JsonObject:
        return {"file": self.file, "reviewer": self.reviewer, "packet_id": self.packet_id, "notes": self.notes,
                "imported": self.imported, "already": self.already, "scenes": [s.to_json() for s in self.scenes],
                "on_film": [n.to_json() for n in self.on_film]}

"""The `--json` objects made from flows.results' records keep DESIGN.md's keys (a dropped key fails here).

No media, no Prefect: the records are built by hand, as the flows and flows.uptodate build them.
"""

from __future__ import annotations

import json

from assets_manifest.report import DuplicateItem, FailedItem, IngestedItem, IngestReport, QuarantinedItem
from delivery.records import UploadResult
from editorial.review import CutQc
from flows.results import (
    CutRender,
    CutStage,
    FactsSummary,
    IngestRun,
    PacketRun,
    PipelineRun,
    RenderedProxy,
    RenderFailure,
    RenderRun,
    SegmentRun,
    UploadFailure,
    UploadRun,
)
from renders.flags import QcFlag
from renders.measurements import Loudness

# DESIGN.md, "The CLI contract": the minimum keys of each command's --json object and of its items.
INGEST = {"ingested", "duplicates", "quarantined", "failed"}
INGESTED = {"path", "asset_id", "sha256", "xxh128", "kind", "duration_frames", "fps", "width", "height", "rotation",
            "start_timecode", "scene"}
RENDER = {"rendered", "skipped", "failed"}
RENDERED = {"asset_id", "proxy", "poster", "qc"}
UPLOAD = {"uploaded", "skipped", "failed"}
UPLOADED = {"key", "bytes", "checksum"}
PACKET = {"path", "scenes", "assets", "as_of"}
PIPELINE = {"ingest", "render", "cut", "upload", "packet", "facts"}


def _ingest_run() -> IngestRun:
    item = IngestedItem(path="/card/S01-01.mov", library_path="/library/S01-01.mov", asset_id="a" * 16,
                        sha256="0" * 64, xxh128="1" * 32, kind="video", duration_frames=50, fps="25/1", width=1920,
                        height=1080, rotation=0, start_timecode="10:00:00:00", scene="S01", shot=None,
                        field_order="progressive", vfr=False, audio_tracks=1)
    report = IngestReport((item,), (DuplicateItem("/card/copy.mov", "a" * 16, "/library/S01-01.mov"),),
                          (QuarantinedItem("/card/bad.mov", "moov atom not found"),))
    return IngestRun(report).with_failures((FailedItem("/card/full.mov", "No space left on device"),))


def _render_run() -> RenderRun:
    qc = {"kind": "video", "flags": [QcFlag("black", 3.0, 2.0, 25, 100, "10:00:01:00", "10:00:04:00").to_json()]}
    return RenderRun((RenderedProxy("a" * 16, "S01-01.mov", "/r/a.mp4", "/r/a.jpg", "/r/a.sheet.jpg", qc),), 2,
                     (RenderFailure("b" * 16, "bad.mov", "ffmpeg: invalid data"),), seconds=1.5)


def _upload_run() -> UploadRun:
    return UploadRun((UploadResult("proxies/S01/a.mp4", 1234, "c2hh", '"e"', skipped=False),), 3,
                     (UploadFailure("posters/S01/a.jpg", "connection reset"),))


def _packet_run() -> PacketRun:
    return PacketRun(path="/p/index.html", zip="/p.zip", scenes=3, assets=2, as_of="2019-05-20", packet_id="p1",
                     manifest="/p/manifest.json", changes=0, notes=1)


def test_ingest_json_keeps_design_keys_and_lists_masters_only_when_stored() -> None:
    data = _ingest_run().to_json()
    assert set(data) >= INGEST and "masters" not in data
    (ingested,) = data["ingested"]  # type: ignore[misc]
    assert set(ingested) >= INGESTED and ingested["fps"] == "25/1"
    assert set(data["duplicates"][0]) >= {"path", "asset_id"}  # type: ignore[index]
    assert data["quarantined"] == [{"path": "/card/bad.mov", "reason": "moov atom not found"}]
    assert data["failed"] == [{"path": "/card/full.mov", "reason": "No space left on device"}]
    assert _ingest_run().problems == 2


def test_render_json_keeps_design_keys_and_adds_farm_facts_only_on_the_farm() -> None:
    run = _render_run()
    data = run.to_json()
    assert set(data) >= RENDER and data["skipped"] == 2 and "elsewhere" not in data
    (rendered,) = data["rendered"]  # type: ignore[misc]
    assert set(rendered) >= RENDERED and "worker" not in rendered
    assert data["failed"] == [{"asset_id": "b" * 16, "name": "bad.mov", "reason": "ffmpeg: invalid data"}]
    assert [f["rule"] for f in run.rendered[0].flags] == ["black"]
    assert RenderRun(skipped=3).to_json() == {"rendered": [], "skipped": 3, "failed": []}
    json.dumps(data)  # JSON all through


def test_upload_and_packet_json_keep_design_keys() -> None:
    upload = _upload_run().to_json()
    assert set(upload) >= UPLOAD and set(upload["uploaded"][0]) >= UPLOADED  # type: ignore[index]
    assert upload["failed"] == [{"key": "posters/S01/a.jpg", "reason": "connection reset"}]
    packet = _packet_run().to_json()
    assert set(packet) >= PACKET | {"hosted_url", "expires", "zip", "packet_id", "hosted_error"}
    assert "unchanged" not in packet


def test_run_json_has_every_stage_and_the_cut_as_before() -> None:
    qc = CutQc(Loudness(-31.0, 4.0, -9.0), (QcFlag("loudness", -31.0, -24.0),), 130.0, 120.0, runtime_ok=False)
    render = CutRender(path="/c/cut.mp4", poster="/c/cut.jpg", version=2, frames=3250, fps="25/1",
                       start_timecode="00:59:50:00", events=4, resolved=4, unresolved=(),
                       segments=(SegmentRun("S01", 3250, True),), chapters="/c/chapters.vtt",
                       subtitles={"vi": "/c/subtitles.vi.vtt", "en": "/c/subtitles.en.vtt"}, qc=qc,
                       render_seconds=2.0, speed=65.0)
    run = PipelineRun(render=_render_run(), cut=CutStage(rendered=True, version=2, render=render),
                      upload=_upload_run(), packet=_packet_run(), facts=FactsSummary(12, 1, {"sourced": 11}),
                      ingest=_ingest_run())
    data = run.to_json()
    assert set(data) == PIPELINE
    cut = data["cut"]
    assert cut["rendered"] is True and cut["path"] == "/c/cut.mp4"  # type: ignore[index]
    assert set(cut["qc"]) == {"flags", "loudness", "runtime_seconds", "target_seconds", "runtime_ok"}  # type: ignore[index]
    assert [f["rule"] for f in cut["qc"]["flags"]] == ["loudness", "runtime"]  # type: ignore[index]
    assert data["facts"] == {"figures": 12, "not_sourced": 1, "counts": {"sourced": 11}}
    not_rendered = CutStage(rendered=False, version=None, reason="no cut yet").to_json()
    assert not_rendered == {"rendered": False, "version": None, "reason": "no cut yet"}
    json.dumps(data)


def test_verify_json_keeps_design_keys_and_adds_objects_only_when_uploaded() -> None:
    from assets_manifest.verify import FileFinding, VerifyReport
    from delivery.records import ObjectsReport
    from flows.results import VerifyRun

    library = VerifyReport(checked=3, mismatched=(FileFinding("/library/a.mov", ("ledger",), "a" * 16),),
                           missing=(), unlisted=(), histories=1)
    alone = VerifyRun(library)
    assert set(alone.to_json()) >= {"checked", "mismatched", "missing"} and "objects" not in alone.to_json()
    assert not alone.ok
    objects = ObjectsReport(checked=2, missing=("s3://films/proxies/S01/a.mp4",))
    both = VerifyRun(VerifyReport(3, (), (), (), 1), objects)
    assert set(both.to_json()["objects"]) >= {"checked", "mismatched", "missing"}  # type: ignore[arg-type]
    assert not both.ok and VerifyRun(VerifyReport(3, (), (), (), 1), ObjectsReport(checked=2)).ok


def test_notes_import_json_keeps_its_keys() -> None:
    from flows.results import FilmNote, NotesImport, SceneReview

    report = NotesImport(file="notes.json", reviewer="Ban Thường vụ", packet_id="p1", notes=3, imported=2,
                         scenes=(SceneReview("S01", "changes-requested"),), on_film=(FilmNote("n1", 2, None),))
    assert report.to_json() == {
        "file": "notes.json", "reviewer": "Ban Thường vụ", "packet_id": "p1", "notes": 3, "imported": 2,
        "already": 1, "scenes": [{"id": "S01", "review": "changes-requested"}],
        "on_film": [{"id": "n1", "cut_version": 2}],
    }

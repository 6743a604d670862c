"""The ledger's own reads and writes, the same on the embedded SQLite and on PostgreSQL (conftest's `database_url`):
render states, upserts, 64-bit sizes, raw path bytes, times in UTC, the order of assets."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from qc_support import StoredQc

from assets_manifest.ledger import Ledger
from assets_manifest.settings import LedgerSettings
from assets_manifest.store import Asset, ReviewNoteRow, SourceSighting, Upload


@pytest.fixture
def ledger(tmp_path: Path, database_url: str | None) -> Iterator[Ledger]:
    led = Ledger.open(LedgerSettings(home=tmp_path / "home", database_url=database_url))
    yield led
    led.close()


def asset(n: int, *, kind: str = "video", scene: str | None = "S01", size: int = 1000,
          path_bytes: bytes | None = None) -> tuple[Asset, SourceSighting]:
    sha = hashlib.sha256(f"clip {n}".encode()).hexdigest()
    raw = path_bytes or f"/card/clip{n}.mov".encode()
    row = Asset(asset_id=sha[:32], sha256=sha, xxh128=sha[:32], size=size, name=f"clip {n:02d}",
                path=f"/library/clip{n}.mov", path_bytes=raw, kind=kind, container="mov",
                scene_id=scene, probe={"streams": [{"codec": "h264", "ratio": [1, 2]}], "name": "phỏng vấn"})
    sighting = SourceSighting(path=raw.decode(errors="surrogateescape").encode(errors="replace").decode(),
                              path_bytes=raw, size=size, mtime_ns=1_764_000_000_123_456_789)
    return row, sighting


def test_render_states_in_one_query_with_never_done_and_failed(ledger: Ledger) -> None:
    ids = []
    for n, kind in enumerate(("video", "video", "video", "audio", "still")):
        row, sighting = asset(n, kind=kind, scene="S01" if n < 4 else "S02")
        ledger.add_asset(row, sighting)
        ids.append(row.asset_id)
    ledger.record_proxy(ids[0], "p1", state="done", proxy_path=Path("/r/a.mp4"), poster_path=Path("/r/a.jpg"),
                        qc=StoredQc({"flags": ["black"], "loudness": -23.5}))
    ledger.record_proxy(ids[1], "p1", state="failed", reason="ffmpeg: moov atom not found")
    ledger.record_proxy(ids[2], "other-profile", state="done")

    states = {a.asset_id: p for a, p in ledger.render_states("p1", kinds=("video", "audio"))}
    assert set(states) == set(ids[:4]), "the still is not of the kinds asked"
    assert states[ids[0]] is not None and states[ids[0]].state == "done"
    assert states[ids[0]].qc == {"flags": ["black"], "loudness": -23.5}
    assert states[ids[1]] is not None and states[ids[1]].reason == "ffmpeg: moov atom not found"
    assert states[ids[2]] is None and states[ids[3]] is None, "another profile's proxy is not this one"
    assert [a.asset_id for a, _ in ledger.render_states("p1", scene_id="S02")] == [ids[4]]
    assert [a.asset_id for a, _ in ledger.render_states("p1")] == sorted(ids)


def test_recording_a_proxy_again_replaces_it(ledger: Ledger) -> None:
    row, sighting = asset(1)
    ledger.add_asset(row, sighting)
    ledger.record_proxy(row.asset_id, "p1", state="failed", reason="no space left")
    ledger.record_proxy(row.asset_id, "p1", state="done", proxy_path=Path("/r/x.mp4"), qc=StoredQc({"ok": True}))
    (proxy,) = ledger.proxies("p1").values()
    assert (proxy.state, proxy.reason, proxy.proxy_path, proxy.qc) == ("done", None, "/r/x.mp4", {"ok": True})


def test_sizes_over_4_gib_raw_path_bytes_and_json_survive(ledger: Ledger) -> None:
    raw = b"/card/ph\xe1\xbb\x8fng-v\xff\xfen.mov"  # not UTF-8: kept as the bytes the file system gave
    row, sighting = asset(1, size=6 * 2**30 + 7, path_bytes=raw)
    stored, new = ledger.add_asset(row, sighting)
    assert new
    got = ledger.asset_by_sha256(row.sha256)
    assert got is not None
    assert got.size == 6 * 2**30 + 7 and got.path_bytes == raw
    assert got.probe == {"streams": [{"codec": "h264", "ratio": [1, 2]}], "name": "phỏng vấn"}
    (seen,) = ledger.sightings(row.asset_id)
    assert seen.mtime_ns == 1_764_000_000_123_456_789 and seen.path_bytes == raw
    assert ledger.asset_by_sighting(seen.path, seen.size, seen.mtime_ns) is not None

    again, new = ledger.add_asset(*asset(1, size=6 * 2**30 + 7, path_bytes=raw))
    assert not new and again.asset_id == row.asset_id and len(ledger.sightings(row.asset_id)) == 1


def test_times_read_back_as_utc_whatever_the_zone_written(ledger: Ledger) -> None:
    saigon = timezone(timedelta(hours=7))
    note = ReviewNoteRow(
        note_id="n1", film_id="can-tho-xiv", scene_id="S01", asset_id=None, reviewer="Chị Lan", verdict="approve",
        text="Được", frame=12, timecode="10:00:00:12", fps="25/1", written_at=datetime(2019, 5, 22, 10, 4, 5,
                                                                                    tzinfo=saigon),
        packet_id="p", manifest_sha256="0" * 64, source_file="/notes.json", file_sha256="1" * 64)
    assert ledger.add_review_notes([note]) == ["n1"]
    assert ledger.add_review_notes([note]) == [], "a note is stored once"
    (stored,) = ledger.review_notes("can-tho-xiv")
    assert stored.written_at == datetime(2019, 5, 22, 3, 4, 5), "naive UTC, as SQLite always gave it"
    row, sighting = asset(1)
    before = datetime.now(UTC).replace(tzinfo=None)
    ledger.add_asset(row, sighting)
    (got,) = ledger.assets()
    assert got.ingested_at.tzinfo is None and abs(got.ingested_at - before) < timedelta(seconds=30)


def test_assets_without_a_scene_come_first_then_by_scene_and_name(ledger: Ledger) -> None:
    for n, scene in ((1, "S02"), (2, None), (3, "S01"), (4, "S02")):
        ledger.add_asset(*asset(n, scene=scene))
    assert [(a.scene_id, a.name) for a in ledger.assets()] == [
        (None, "clip 02"), ("S01", "clip 03"), ("S02", "clip 01"), ("S02", "clip 04")]
    assert [a.name for a in ledger.assets(scene_id="S02")] == ["clip 01", "clip 04"]


def test_an_upload_recorded_again_is_replaced_by_its_key(ledger: Ledger) -> None:
    def upload(etag: str) -> Upload:
        return Upload(endpoint="http://127.0.0.1:8333", bucket="docfilm", key="proxies/a.mp4", local_path="/r/a.mp4",
                      sha256="2" * 64, checksum="abc=", bytes=5 * 2**30, etag=etag, version_id=None, asset_id=None,
                      role="proxy")

    ledger.record_upload(upload('"one"'))
    ledger.record_uploads([upload('"two"')])
    (row,) = ledger.uploads()
    assert row.etag == '"two"' and row.bytes == 5 * 2**30

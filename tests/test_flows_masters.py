"""Masters in S3 (DOCFILM_LIBRARY_S3=on) with real SeaweedFS, real ffmpeg, on SQLite and PostgreSQL: ingest stores
each master verified by the server; a machine without the library renders from S3 through its bounded cache and
stores its proxies in S3; a corrupted object quarantines the asset; a restart keeps the cache."""

from __future__ import annotations

import base64
import hashlib
import shutil
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from cli_support import make_clip

from assets_manifest.errors import MasterQuarantined
from flows.settings import DocfilmSettings
from flows.workspace import Workspace, film_path

pytestmark = pytest.mark.slow


def _workspace(monkeypatch: pytest.MonkeyPatch, home: Path, **env: str) -> Workspace:
    monkeypatch.setenv("DOCFILM_HOME", str(home))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Workspace(film_path(None), DocfilmSettings.load())


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, embedded_s3: Any) -> dict[str, str]:
    """Masters to S3, on the session's SeaweedFS, in a bucket of this test's own."""
    bucket = f"m-{uuid.uuid4().hex[:12]}"
    for name, value in {"DOCFILM_S3_ENDPOINT_URL": embedded_s3.endpoint_url, "DOCFILM_S3_BUCKET": bucket,
                        "AWS_ACCESS_KEY_ID": embedded_s3.access_key, "AWS_SECRET_ACCESS_KEY": embedded_s3.secret_key,
                        "DOCFILM_LIBRARY_S3": "on"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DOCFILM_CACHE_MAX_GIB", raising=False)
    return {"bucket": bucket}


def _ingest(ws: Workspace, card: Path) -> list[str]:
    from assets_manifest.ingest import ingest

    report = ingest([card], ws.ledger, scene_ids=ws.scene_ids(), library=ws.settings.ledger.library_dir(),
                    exclude=[ws.home], film_rate=Fraction(25), part_hashing=ws.settings.s3.master_part_hashing)
    return [x.asset_id for x in report.ingested]


def _wav(path: Path, seconds: int, frequency: int) -> None:
    """Stereo 16-bit PCM at 48 kHz: 192,000 bytes a second (30 s: 5.5 MiB, two parts of 5 MiB)."""
    import subprocess

    import imageio_ffmpeg

    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f",
                    "lavfi", "-i", f"sine=frequency={frequency}:sample_rate=48000:duration={seconds}", "-ac", "2",
                    "-c:a", "pcm_s16le", str(path)], check=True, capture_output=True, timeout=60)


def test_ingest_records_part_hashes_and_the_master_upload_sends_them_for_the_server_to_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded_s3: Any, s3_env: dict[str, str],
    database_url: str | None,
) -> None:
    """Masters at the multipart threshold get their parts' SHA-256 in ingest's one read; store_master sends them
    and hashes nothing: a master changed on disk after ingest is refused by the server (BadDigest), not by the
    client, and leaves no object, no open upload."""
    from core.part_hashes import hash_file_parts
    from delivery import multipart
    from delivery.multipart import composite_checksum, recorded_plan
    from flows.masters_steps import store_masters

    card = tmp_path / "card"
    _wav(card / "S01-01_tiếng-chợ.wav", 30, 440)
    _wav(card / "S01-02_tiếng-gió.wav", 30, 880)
    if database_url:
        monkeypatch.setenv("DOCFILM_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("DOCFILM_DATABASE_URL", raising=False)
    ws = _workspace(monkeypatch, tmp_path / "home", DOCFILM_S3_MULTIPART_THRESHOLD_MIB="5",
                    DOCFILM_S3_PART_SIZE_MIB="5")
    ids = _ingest(ws, card)
    assets = sorted(ws.ledger.assets(), key=lambda a: a.name)
    assert len(ids) == 2 and len(assets) == 2
    for asset in assets:
        whole, size, parts = hash_file_parts(Path(asset.path), 5 * 1024 * 1024)
        assert (whole, size) == (asset.sha256, asset.size) and len(parts.digests) == 2
        assert asset.part_hashes == parts, "the ledger holds the parts of the bytes it hashed"
    changed = Path(assets[1].path)
    changed.chmod(0o644)
    with changed.open("r+b") as f:  # same size, one byte of the first part flipped
        f.seek(4096)
        byte = f.read(1)
        f.seek(4096)
        f.write(bytes([byte[0] ^ 0xFF]))

    def no_hashing(*_: object) -> None:
        raise AssertionError("the master was hashed at upload time")

    monkeypatch.setattr(multipart, "part_plan", no_hashing)
    stored, failed = store_masters(ws, ids)
    client, bucket = embedded_s3.client, s3_env["bucket"]
    (done,) = stored
    assert done.asset_id == assets[0].asset_id and done.uploaded
    head = client.head_object(Bucket=bucket, Key=done.key, ChecksumMode="ENABLED")
    plan, _ = recorded_plan(assets[0].part_hashes, assets[0].size)
    assert plan is not None and head["ChecksumSHA256"] == composite_checksum(plan)
    assert head["Metadata"]["docfilm-sha256"] == base64.b64encode(bytes.fromhex(assets[0].sha256)).decode()
    ((refused, reason),) = failed
    assert refused.asset_id == assets[1].asset_id
    assert "BadDigest" in reason and "aborted" in reason, reason
    key = f"masters/{assets[1].sha256}"
    assert client.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount") == 0
    assert client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", []) == []
    assert not list(ws.settings.s3.uploads_dir.iterdir())
    ws.ledger.close()


def test_masters_go_to_s3_and_a_machine_without_the_library_renders_from_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded_s3: Any, s3_env: dict[str, str],
    database_url: str | None,
) -> None:
    from flows.masters_steps import local_master, master_cache, store_masters
    from flows.steps import asset_record, render_asset, render_plan, upload_plan

    client, bucket = embedded_s3.client, s3_env["bucket"]
    card = tmp_path / "card"
    make_clip(card / "S01-01_phỏng-vấn.mp4", "10:00:00:00")
    make_clip(card / "S01-02_cảnh.mp4", "10:01:00:00", seconds=2)
    studio = tmp_path / "studio"
    shared_ledger = database_url or f"sqlite:///{studio / 'ledger.sqlite'}"
    monkeypatch.setenv("DOCFILM_DATABASE_URL", shared_ledger)

    # The studio ingests with DOCFILM_LIBRARY_S3=on: each master goes to masters/<sha256>, verified by the server.
    ws = _workspace(monkeypatch, studio)
    ids = _ingest(ws, card)
    stored, failed = store_masters(ws, ids)
    assert not failed and sorted(m.asset_id for m in stored) == sorted(ids) and all(m.uploaded for m in stored)
    for asset in ws.ledger.assets():
        assert asset.master_key == f"masters/{asset.sha256}" and asset.master_etag
        head = client.head_object(Bucket=bucket, Key=asset.master_key, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(asset.sha256)).decode()
        assert head["ETag"] == asset.master_etag
    assert {u.role for u in ws.ledger.uploads()} == {"master"}
    # Ingesting them again sends nothing: the ledger knows they are stored.
    again, _ = store_masters(ws, ids)
    assert not any(m.uploaded for m in again)
    ws.ledger.close()
    shutil.move(studio / "library", tmp_path / "elsewhere")  # the worker's machine has no library

    # A worker with a fresh home and a cache room for one master only (the larger one fits alone).
    sizes = sorted(a.size for a in Workspace(film_path(None), DocfilmSettings.load()).ledger.assets())
    worker = tmp_path / "worker"
    ws = _workspace(monkeypatch, worker, DOCFILM_CACHE_MAX_GIB=str((sizes[1] + sizes[0] // 2) / 1024**3))
    todo, skipped = render_plan(ws)
    assert len(todo) == 2 and skipped == 0
    outcomes = [render_asset(ws, asset) for asset in todo]
    assert [o.reason for o in outcomes] == [None, None]
    cache = master_cache(ws)
    assert cache.root == worker / "cache" / "masters"
    assert [p.name.split(".")[0] for p, _, _ in cache.entries()] == [todo[1].sha256], "the first was evicted"

    profile = ws.profile.profile_hash()
    for asset in todo:
        record = asset_record(ws, asset).to_json()
        assert record["master"]["key"] == f"masters/{asset.sha256}" and record["master"]["etag"]
        key = record["proxy"]["key"]
        assert key == f"proxies/{profile}/{asset.asset_id}.mp4"
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == record["proxy"]["s3"]["proxy"]["sha256"]
        assert record["proxy"]["s3"]["poster"]["key"] == f"proxies/{profile}/{asset.asset_id}.poster.jpg"
    ws.ledger.close()

    # A restart of the worker keeps its cache: the cached master is used even with the S3 object gone.
    client.delete_object(Bucket=bucket, Key=f"masters/{todo[1].sha256}")
    ws = _workspace(monkeypatch, worker)
    cached = local_master(ws, todo[1])
    assert cached.parent == worker / "cache" / "masters"
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == todo[1].sha256
    # Another machine sees nothing stale: the proxies are in S3, though not on its disk.
    ws.ledger.close()
    shutil.rmtree(worker / "renders")
    third = tmp_path / "third"
    ws = _workspace(monkeypatch, third)
    assert render_plan(ws) == ([], 2)
    assert upload_plan(ws) == [], "`docfilm upload` does not store the proxies a second time"
    _packet_from_s3(ws, third, client, bucket, todo)
    ws.ledger.close()


def _packet_from_s3(ws: Workspace, home: Path, client: Any, bucket: str, assets: list[Any]) -> None:
    """The packet on a machine that rendered nothing: its media fetched from S3, the hosted copy linking the
    proxies/ objects instead of storing them again."""
    from datetime import date

    from flows.review_steps import hosted_links, publish_packet, stored_renditions
    from flows.steps import clip_records
    from review.packet import build_packet

    clips = {c.asset_id: c for c in clip_records(ws)}
    for asset in assets:
        clip = clips[asset.asset_id]
        assert clip.proxy is not None and clip.proxy.parent == home / "cache" / "renditions" and clip.proxy.is_file()
        assert clip.poster is not None and clip.poster.is_file()
    stored = stored_renditions(ws)
    links = hosted_links(client, bucket, ws.film.film.id, 3600, stored=stored)
    result = build_packet(ws.film, list(clips.values()), home / "packets", date(2019, 5, 20), hosted=links)
    assert result.playable == 2
    published = publish_packet(ws, client, bucket, result, set(stored))
    assert not published.failed and published.linked == len(result.media_files()) >= 4
    assert [u.key for u in published.uploaded] == [f"packets/{ws.film.film.id}/index.html"]
    page = result.hosted_index.read_text(encoding="utf-8") if result.hosted_index else ""
    assert page.count(f"/{bucket}/proxies/{ws.profile.profile_hash()}/") >= 4
    assert f"/{bucket}/packets/{ws.film.film.id}/media/" not in page


def test_a_master_whose_object_changed_is_quarantined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded_s3: Any, s3_env: dict[str, str],
    database_url: str | None,
) -> None:
    """…and leaves every render plan (local and farm) until its master is ingested again; `show` and `status`
    say why."""
    from datetime import date

    from assets_manifest.leases import Leases
    from flows.masters_steps import local_master, store_masters
    from flows.steps import asset_record, clip_records, render_asset, render_plan
    from review.status import status_report

    card = tmp_path / "card"
    make_clip(card / "S02-01_hỏng.mp4", "09:00:00:00")
    if database_url:
        monkeypatch.setenv("DOCFILM_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("DOCFILM_DATABASE_URL", raising=False)
    ws = _workspace(monkeypatch, tmp_path / "home")
    (asset_id,) = _ingest(ws, card)
    store_masters(ws, [asset_id])
    (asset,) = ws.ledger.assets()
    library = ws.settings.ledger.library_dir()
    shutil.move(library, tmp_path / "library-elsewhere")  # a worker without the library
    # The stored object is replaced by other bytes (a bad disk, a careless copy).
    bucket = s3_env["bucket"]
    embedded_s3.client.put_object(Bucket=bucket, Key=asset.master_key, Body=b"not the master")
    with pytest.raises(MasterQuarantined, match="no longer matches its SHA-256"):
        local_master(ws, asset)
    (row,) = ws.ledger.quarantined()
    assert row.sha256 == asset.sha256 and f"masters/{asset.sha256}" in row.reason
    assert "no longer matches its SHA-256" in row.reason
    outcome = render_asset(ws, asset)
    assert outcome.failed and "quarantined" in (outcome.reason or "")
    assert not list((tmp_path / "home" / "cache" / "masters").glob(f"{asset.sha256}*"))

    # Out of the plans, locally and on the farm, render after render; show and status say why.
    profile = ws.profile.profile_hash()
    for _ in range(2):
        assert render_plan(ws) == ([], 0)
        assert Leases(ws.ledger).plan(profile, planner="p") == []
    (asset,) = ws.ledger.assets()
    assert asset.master_quarantine == row.reason
    assert asset_record(ws, asset).to_json()["master"]["quarantined"] == row.reason
    report = status_report(ws.film, clip_records(ws), date(2026, 11, 29)).to_json()
    assert report["quarantined"] == [{"asset_id": asset_id, "name": asset.name, "scene_id": "S02",
                                      "reason": row.reason}]

    # Ingested again from the library: the master is sent again, the quarantine lifted, the asset planned.
    shutil.move(tmp_path / "library-elsewhere", library)
    assert _ingest(ws, card) == []  # a duplicate: the ledger knows the bytes
    (stored,), failed = store_masters(ws, [asset_id])
    assert not failed and stored.uploaded
    head = embedded_s3.client.head_object(Bucket=bucket, Key=stored.key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(asset.sha256)).decode()
    (asset,) = ws.ledger.assets()
    assert asset.master_quarantine is None and asset.master_etag == stored.etag
    assert [a.asset_id for a in render_plan(ws)[0]] == [asset_id]
    assert [p.asset_id for p in Leases(ws.ledger).plan(profile, planner="p")] == [asset_id]
    assert asset_record(ws, asset).to_json()["master"]["quarantined"] is None
    ws.ledger.close()


def test_ingest_command_stores_masters_once_and_show_names_them(
    tmp_path: Path, embedded_s3: Any, prefect_for_tests: Any
) -> None:
    """As a user runs it: `docfilm ingest --json` with DOCFILM_LIBRARY_S3=on lists each master stored (stored once:
    see store_masters above); `docfilm show --json` names the master's key, ETag and VersionId."""
    import json

    from cli_support import docfilm_cli

    card = tmp_path / "card"
    make_clip(card / "S03-01_chợ-nổi.mp4", "08:00:00:00")
    bucket = f"m-{uuid.uuid4().hex[:12]}"
    env = prefect_for_tests.env(
        tmp_path / "home", DOCFILM_LIBRARY_S3="on", DOCFILM_S3_ENDPOINT_URL=embedded_s3.endpoint_url,
        DOCFILM_S3_BUCKET=bucket, AWS_ACCESS_KEY_ID=embedded_s3.access_key,
        AWS_SECRET_ACCESS_KEY=embedded_s3.secret_key,
    )
    first = docfilm_cli("ingest", "--json", str(card), env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    report = json.loads(first.stdout)
    (item,) = report["ingested"]
    (master,) = report["masters"]
    assert master["asset_id"] == item["asset_id"] and master["uploaded"] is True
    assert master["key"] == f"masters/{item['sha256']}" and master["etag"]
    shown = docfilm_cli("show", item["asset_id"], "--json", env=env)
    assert shown.returncode == 0, shown.stderr[-3000:]
    record = json.loads(shown.stdout)
    assert record["master"] == {"library_path": item["library_path"], "key": master["key"], "etag": master["etag"],
                                "version_id": master["version_id"], "quarantined": None}
    assert [o["key"] for o in record["stored"] if o["role"] == "master"] == [master["key"]]

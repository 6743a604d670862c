"""The Prefect flows end to end on a real Prefect server, real ffmpeg and a real SeaweedFS."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest

from renders.settings import RendersSettings

pytestmark = pytest.mark.slow
SETTINGS = RendersSettings()  # read once, as a command does


@pytest.fixture
def workspace_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded_s3: Any) -> Path:
    """A fresh DOCFILM_HOME whose uploads go to the session's SeaweedFS, in a bucket of its own."""
    home = tmp_path / "home"
    monkeypatch.setenv("DOCFILM_HOME", str(home))
    monkeypatch.setenv("DOCFILM_S3_ENDPOINT_URL", embedded_s3.endpoint_url)
    monkeypatch.setenv("DOCFILM_S3_BUCKET", f"t-{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", embedded_s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", embedded_s3.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return home


def _footage(folder: Path) -> list[Path]:
    from renders.synth import make_broken_file, make_clip

    clips = [
        (folder / "S01" / "S01-01_phỏng-vấn.mov", "prores_mov", "10:00:00:00"),
        (folder / "S05" / "S05-01_cảnh-quay.mp4", "h264_mp4", "11:00:00:00"),
        (folder / "S09-01_tư-liệu.ts", "mpegts_1080i", "12:00:00:00"),
    ]
    for path, kind, tc in clips:
        path.parent.mkdir(parents=True, exist_ok=True)
        make_clip(path, kind, f"{path.stem} · Cần Thơ", 1, tc, size=(320, 180), settings=SETTINGS)
    make_broken_file(folder / "S01" / "S01-02_hỏng.mp4", settings=SETTINGS)
    return [c[0] for c in clips]


def _decodes(path: str) -> bool:
    p = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", path, "-f", "null", "-"],
                       capture_output=True, text=True)
    return p.returncode == 0 and not p.stderr.strip()


def test_pipeline_twice(prefect_harness: None, workspace_env: Path, tmp_path: Path, embedded_s3: Any) -> None:
    from flows.docfilm_flows import pipeline_flow, render_flow, upload_flow
    from flows.workspace import Workspace, film_path

    footage = tmp_path / "card"
    clips = _footage(footage)
    first = pipeline_flow([str(footage)], as_of=date(2019, 5, 20)).to_json()  # run --json's object

    assert len(first["ingest"]["ingested"]) == 3
    assert [Path(q["path"]).name for q in first["ingest"]["quarantined"]] == ["S01-02_hỏng.mp4"]
    scenes = {Path(x["path"]).name: x["scene"] for x in first["ingest"]["ingested"]}
    assert scenes == {c.name: c.name[:3] for c in clips}
    rendered = first["render"]["rendered"]
    assert len(rendered) == 3 and not first["render"]["failed"]
    assert all(_decodes(r["proxy"]) for r in rendered)
    assert len(first["upload"]["uploaded"]) == 6 and not first["upload"]["failed"]

    # every uploaded object holds exactly the bytes the ledger recorded
    ws = Workspace(film_path(None))
    bucket = ws_bucket()
    for row in ws.ledger.uploads():
        body = embedded_s3.client.get_object(Bucket=bucket, Key=row.key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == row.sha256
        assert base64.b64encode(hashlib.sha256(body).digest()).decode() == row.checksum

    packet = Path(first["packet"]["path"])
    html = packet.read_text(encoding="utf-8")
    assert "Xây dựng Đảng và hệ thống chính trị" in html
    assert html.count('<a class="player"') == 3  # each becomes a <video> in the browser (review tests)
    assert first["packet"]["hosted_url"] and first["packet"]["hosted_error"] is None
    # the figures' check ran last: the bundled film states only sourced figures
    facts = first["facts"]
    assert facts["figures"] > 0 and facts["not_sourced"] == 0 and facts["counts"]["sourced"] == facts["figures"]

    proxies = [Path(r["proxy"]) for r in rendered] + [Path(r["poster"]) for r in rendered]
    before = {p: p.stat().st_mtime_ns for p in proxies}
    state = render_flow(return_state=True)
    assert state.name == "SKIPPED"
    assert state.result().to_json() == {"rendered": [], "skipped": 3, "failed": []}
    again = upload_flow()
    assert again.uploaded == () and again.skipped == 6
    assert {p: p.stat().st_mtime_ns for p in proxies} == before


def ws_bucket() -> str:
    import os

    return os.environ["DOCFILM_S3_BUCKET"]


def test_one_bad_clip_never_stops_the_others(prefect_harness: None, workspace_env: Path, tmp_path: Path) -> None:
    from flows.docfilm_flows import ingest_flow, render_flow
    from renders.synth import make_clip

    card = tmp_path / "card"
    card.mkdir()
    good, bad = card / "S02-01_tốt.mp4", card / "S02-02_hỏng-sau-khi-nhập.mp4"
    make_clip(good, "h264_mp4", "tốt", 1, "09:00:00:00", size=(320, 180), settings=SETTINGS)
    make_clip(bad, "h264_mp4", "hỏng", 1, "09:00:10:00", size=(320, 180), settings=SETTINGS)
    report = ingest_flow([str(card)]).to_json()
    # The master (the library copy ingest made) is damaged after ingest (a failing disk): ffmpeg fails on it,
    # the other clip still renders.
    master = Path(next(x["library_path"] for x in report["ingested"] if Path(x["path"]) == bad))
    master.chmod(0o644)
    master.write_bytes(bytes(len(master.read_bytes())))
    result = render_flow(jobs=2).to_json()
    assert [r["name"] for r in result["rendered"]] == [good.name]
    assert [f["name"] for f in result["failed"]] == [bad.name]
    assert result["failed"][0]["reason"]


def test_render_flow_covers_every_kind_with_qc_and_progress(
    prefect_harness: None, workspace_env: Path, tmp_path: Path
) -> None:
    import shutil

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.docfilm_flows import ingest_flow, render_flow
    from renders.synth_cases import make_qc_clip, make_tone_file

    card = tmp_path / "card"
    make_qc_clip(card / "S03-01_đen.mp4", 6, black=(1, 4), start_timecode="08:00:00:00", settings=SETTINGS)
    make_tone_file(card / "S03-02_phỏng-vấn.wav", 2, settings=SETTINGS)
    shutil.copy(Path(__file__).parent / "fixtures" / "samples" / "iphone6s_tokyo.jpg", card / "S03-03_ảnh.jpg")
    ingest_flow([str(card)])

    state = render_flow(return_state=True)
    result = state.result().to_json()
    assert not result["failed"]
    by_kind = {Path(r["proxy"]).suffix: r for r in result["rendered"]}
    assert sorted(by_kind) == [".jpg", ".m4a", ".mp4"]
    video = by_kind[".mp4"]["qc"]
    assert [(b["start"], b["end"]) for b in video["black"]] == [("08:00:01:00", "08:00:04:00")]
    assert [f["rule"] for f in video["flags"]] == ["black"] and Path(by_kind[".mp4"]["contact_sheet"]).is_file()
    assert abs(by_kind[".m4a"]["qc"]["loudness"]["integrated_lufs"] + 23) <= 0.5

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        )
    progress = [a for a in artifacts if a.type == "progress"]
    assert len(progress) == 1 and float(progress[0].data) == 100.0

    again = render_flow(return_state=True)
    assert again.name == "SKIPPED" and again.result().to_json() == {"rendered": [], "skipped": 3, "failed": []}

"""The cut flows on the session's real Prefect server: assemble, render only when stale, import; the pipeline's
review cut stage (a second run with nothing changed renders no segment and does not join again)."""

from __future__ import annotations

import inspect
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_support import ROOT, make_clip, small_film

pytestmark = pytest.mark.slow

CUT_KEYS = {"path", "frames", "fps", "start_timecode", "events", "resolved", "unresolved", "segments", "chapters",
            "subtitles", "qc"}


@pytest.fixture
def film(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded_s3: Any) -> Path:
    """A one-scene film in a fresh DOCFILM_HOME whose uploads go to the session's SeaweedFS, in a bucket of its own."""
    monkeypatch.setenv("DOCFILM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DOCFILM_FILM", raising=False)
    monkeypatch.setenv("DOCFILM_S3_ENDPOINT_URL", embedded_s3.endpoint_url)
    monkeypatch.setenv("DOCFILM_S3_BUCKET", f"t-{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", embedded_s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", embedded_s3.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    (tmp_path / "film").mkdir()
    return small_film(tmp_path / "film" / "film.yaml", film_id="can-tho-xiv", scene_id="S01")


def _cut_files(home: Path) -> dict[Path, int]:
    return {f: f.stat().st_mtime_ns for f in (home / "cuts").rglob("*") if f.is_file()}


def test_the_review_cut_is_rendered_only_when_stale(prefect_harness: None, film: Path, tmp_path: Path) -> None:
    from flows.docfilm_flows import cut_render_flow, pipeline_flow

    home = tmp_path / "home"
    card = tmp_path / "card"
    make_clip(card / "S01-01_a.mp4", "10:00:00:00")
    make_clip(card / "S01-02_b.mp4", "11:00:00:00")

    # The demo's pipeline: the string-out assembled after the proxies, then rendered as the review cut.
    first = pipeline_flow([str(card)], film=str(film), assemble_cut=True).to_json()
    cut = first["cut"]
    assert cut["rendered"] is True and set(cut) >= CUT_KEYS
    assert [(s["scene"], s["rendered"]) for s in cut["segments"]] == [("S01", True)]
    assert Path(cut["path"]).is_file() and cut["frames"] > 0
    before = _cut_files(home)

    # Nothing changed: the cut is not rendered (no segment, no join), decided before any ffmpeg.
    again = pipeline_flow([str(card)], film=str(film)).to_json()
    assert again["cut"] == {"rendered": False, "version": cut["version"], "reason": "up to date"}
    state = cut_render_flow(film=str(film), return_state=True)
    assert state.name == "SKIPPED"
    skipped = state.result().to_json()
    assert [s["rendered"] for s in skipped["segments"]] == [False] and skipped["path"] == cut["path"]
    assert _cut_files(home) == before

    # The narration changed: its subtitles are written again, no segment is rendered, the join is kept.
    doc = yaml.safe_load(film.read_text(encoding="utf-8"))
    doc["scenes"][0]["narration"]["en"] = "The narration as the editor revised it."
    film.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    state = cut_render_flow(film=str(film), return_state=True)
    assert state.is_completed() and state.name != "SKIPPED"
    revised = state.result().to_json()
    assert [s["rendered"] for s in revised["segments"]] == [False]
    assert "revised" in Path(revised["subtitles"]["en"]).read_text(encoding="utf-8")
    changed = {f.name for f, t in _cut_files(home).items() if before.get(f) != t}
    assert changed == {"subtitles.en.vtt"}


def test_import_flow_conforms_and_lists_what_it_cannot(prefect_harness: None, film: Path, tmp_path: Path) -> None:
    from flows.docfilm_flows import cut_import_flow

    edl = tmp_path / "cut.edl"
    edl.write_text(
        "TITLE: flows\nFCM: NON-DROP FRAME\n\n"
        "001  NOWHERE  V     C        10:00:00:00 10:00:01:00 01:00:00:00 01:00:01:00\n"
        "* FROM CLIP NAME: NOT_SHOT_YET\n",
        encoding="utf-8",
    )
    state = cut_import_flow(str(edl), rate="25", film=str(film), return_state=True)
    assert state.is_completed()
    report = state.result().to_json()
    assert report["version"] == 1 and report["resolved"] == []
    assert [(u["event"], u["name"]) for u in report["unresolved"]] == [(1, "NOT_SHOT_YET")]


def test_prefect_yaml_deploys_the_cut_flows() -> None:
    import flows.docfilm_flows as flows

    doc = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    by_name = {d["name"]: d for d in doc["deployments"]}
    for name in ("cut-assemble", "cut-import", "cut-render"):
        flow_name = name.replace("-", "_") + "_flow"
        deployment = by_name[name]
        assert deployment["entrypoint"] == f"flows/cut_flows.py:{flow_name}"
        assert deployment["work_pool"]["name"] == by_name["pipeline"]["work_pool"]["name"]
        accepted = set(inspect.signature(getattr(flows, flow_name).fn).parameters)
        assert set(deployment.get("parameters") or {}) <= accepted
    assert "cut_stage(film)" in inspect.getsource(flows.nightly_render_flow)

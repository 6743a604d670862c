"""The docfilm command as users run it: exit codes, --json contracts, no Prefect where none is needed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_support import PrefectForTests, user_env

ROOT = Path(__file__).resolve().parent.parent
DOCFILM = Path(sys.executable).parent / "docfilm"
SAMPLES = Path(__file__).parent / "fixtures" / "samples"


def docfilm(*args: str, home: Path, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess[str]:
    """The installed command in a user's environment: none of this runner's PREFECT_*, DOCFILM_* or AWS_*."""
    return subprocess.run([str(DOCFILM), *args], capture_output=True, text=True, env=user_env(home, **extra),
                          timeout=timeout, cwd=ROOT)  # fmt: skip


def test_check_and_status_never_import_prefect(tmp_path: Path) -> None:
    code = """
import json, sys
from typer.testing import CliRunner
from flows.cli import app
r = CliRunner().invoke(app, ["storyboard", "check"])
assert r.exit_code == 0, r.output
r = CliRunner().invoke(app, ["status", "--json", "--as-of", "2019-05-20"])
assert r.exit_code == 0, r.output
print(json.dumps({"prefect": sorted(m for m in sys.modules if m.split(".")[0] == "prefect"), "out": r.stdout}))
"""
    env = user_env(tmp_path / "home")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["prefect"] == []
    status = json.loads(got["out"])
    assert set(status) >= {"as_of", "milestones", "themes", "scenes"}
    review = next(m for m in status["milestones"] if m["due"] == "2019-05-31")
    assert review["days_left"] == 11
    assert {t["id"] for t in status["themes"]} == {"party-building", "socio-economic", "defence-security"}
    for s in status["scenes"]:
        assert set(s) >= {"id", "theme", "state", "assets", "proxies"}


def test_storyboard_check_reports_every_mistake(tmp_path: Path) -> None:
    from storyboard.loader import bundled_film_path

    doc = yaml.safe_load(bundled_film_path().read_text(encoding="utf-8"))
    doc["bogus_key"] = 1
    doc["scenes"].append(dict(doc["scenes"][0]))
    doc["scenes"][1]["theme"] = "no-such-theme"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    p = docfilm("storyboard", "check", str(bad), home=tmp_path / "home")
    lines = [ln for ln in p.stdout.splitlines() if re.match(rf"{re.escape(str(bad))}:\d+:\d+: ", ln)]
    assert p.returncode == 2
    assert len(lines) >= 3
    assert any("bogus_key" in ln for ln in lines)
    assert any("no-such-theme" in ln for ln in lines)
    assert not (tmp_path / "home").exists(), "a bad storyboard writes nothing"


def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    p = docfilm("ingest", str(tmp_path / "nowhere"), home=tmp_path / "home")
    assert p.returncode == 2
    assert "nowhere" in p.stderr
    p = docfilm("status", "--as-of", "31/05/2019", home=tmp_path / "home")
    assert p.returncode == 2
    assert "YYYY-MM-DD" in p.stderr


@pytest.mark.slow
def test_ingest_json_of_real_samples(tmp_path: Path, prefect_for_tests: PrefectForTests) -> None:
    samples = tmp_path / "samples"
    shutil.copytree(SAMPLES, samples, ignore=shutil.ignore_patterns("*.md", "*.tsv"))
    p = docfilm("ingest", "--json", str(samples), home=tmp_path / "home", PREFECT_API_URL=prefect_for_tests.api_url)
    assert p.returncode == 1, p.stderr[-2000:]
    report = json.loads(p.stdout)  # stdout is exactly one JSON object
    assert {Path(q["path"]).name for q in report["quarantined"]} == {
        "malformed_free_box_moov_not_found.mp4", "ftyp_only_fixture-isomv2.mp4"}
    assert len(report["ingested"]) == 11
    keys = {"path", "asset_id", "sha256", "xxh128", "kind", "duration_frames", "fps", "width", "height",
            "rotation", "start_timecode", "scene"}
    for x in report["ingested"]:
        assert keys <= set(x)
        assert x["kind"] in ("video", "audio", "still")
        assert x["fps"] is None or re.fullmatch(r"\d+/\d+", x["fps"]), x["fps"]
    assert report["failed"] == [] and report["duplicates"] == []

    a = report["ingested"][0]
    shown = docfilm("show", a["asset_id"], "--json", home=tmp_path / "home")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert {k: record[k] for k in keys} == {k: a[k] for k in keys if k != "path"} | {"path": record["path"]}
    assert record["sightings"] == [a["path"]]

"""Every command on a PostgreSQL ledger, as a farm's machine runs them: `docfilm db upgrade` once, then `run`,
`render`, `status`, `show` and `verify` with DOCFILM_DATABASE_URL naming the server (the installed CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import PrefectForTests, assert_no_traceback, closed_port, docfilm_cli, make_clip
from postgres_support import PostgresCluster

from core.errors import EXIT_ENV


@pytest.mark.slow
def test_the_pipeline_on_a_postgresql_ledger(tmp_path: Path, postgres_cluster: PostgresCluster,
                                             prefect_for_tests: PrefectForTests) -> None:
    card = tmp_path / "card"
    make_clip(card / "S01" / "S01-01_phỏng-vấn.mp4", "10:00:00:00")
    make_clip(card / "S02-01_cảnh-quay.mp4", "11:00:00:00")
    env = prefect_for_tests.env(tmp_path / "home", DOCFILM_DATABASE_URL=postgres_cluster.new_database())

    # Refused before anything starts: with Prefect's API at a closed port, the ledger is still what it names.
    refused = docfilm_cli("run", "--as-of", "2019-05-20", str(card),
                          env=env | {"PREFECT_API_URL": f"http://127.0.0.1:{closed_port()}/api"})
    assert refused.returncode == EXIT_ENV and "docfilm db upgrade" in refused.stderr, refused.stderr[-3000:]
    assert not (tmp_path / "home" / "s3").exists(), "refused before the embedded S3 started"
    assert postgres_cluster.password not in refused.stdout + refused.stderr
    assert not (tmp_path / "home" / "library").exists(), "refused before anything was copied"

    assert docfilm_cli("db", "upgrade", env=env).returncode == 0
    run = docfilm_cli("run", "--json", "--as-of", "2019-05-20", str(card), env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert len(report["ingest"]["ingested"]) == 2 and len(report["render"]["rendered"]) == 2
    assert len(report["upload"]["uploaded"]) == 4 and report["packet"]["assets"] == 2
    assert not (tmp_path / "home" / "ledger.sqlite").exists(), "the ledger is the server's, not a local file"

    again = docfilm_cli("render", "--json", env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["skipped"] == 2, again.stderr[-3000:]
    asset_id = report["ingest"]["ingested"][0]["asset_id"]
    show = docfilm_cli("show", "--json", asset_id, env=env)
    assert show.returncode == 0, show.stderr[-3000:]
    assert {o["role"] for o in json.loads(show.stdout)["stored"]} == {"proxy", "poster"}
    verify = docfilm_cli("verify", "--json", env=env)
    assert verify.returncode == 0 and json.loads(verify.stdout)["mismatched"] == [], verify.stderr[-3000:]
    status = docfilm_cli("status", "--json", "--as-of", "2019-05-20", env=env)
    assert status.returncode == 0, status.stderr[-3000:]
    for p in (run, again, show, verify, status):
        assert_no_traceback(p)
        assert postgres_cluster.password not in p.stdout + p.stderr

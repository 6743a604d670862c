"""The farm's planner without Prefect (flows.farm_steps.run_farm): work a dead worker held, or a flow run that
failed, goes back into the plan and is rendered once by another; an asset no flow run can finish is reported
failed with the reason. The "workers" here are the real lease calls, done where a flow run would do them."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path
from typing import Any

import pytest

from assets_manifest.leases import Leases
from assets_manifest.ledger import Ledger
from assets_manifest.store import Asset, SourceSighting
from flows.farm_steps import run_farm
from flows.settings import DocfilmSettings
from flows.workspace import Workspace, film_path


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    for name in ("DOCFILM_DATABASE_URL", "DOCFILM_FARM_BATCH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCFILM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DOCFILM_FARM_LEASE_SECONDS", "2")
    monkeypatch.setenv("DOCFILM_FARM_POLL_SECONDS", "0.1")
    monkeypatch.setenv("DOCFILM_FARM_ATTEMPTS", "2")
    workspace = Workspace(film_path(None), DocfilmSettings.load())
    for i in range(3):
        sha = hashlib.sha256(f"farm clip {i}".encode()).hexdigest()
        raw = f"/card/c{i}.mov".encode()
        workspace.ledger.add_asset(
            Asset(asset_id=sha[:16], sha256=sha, xxh128=sha[:32], size=1, name=f"c{i}.mov", path=f"/lib/c{i}.mov",
                  path_bytes=raw, kind="video", container="mov", duration_frames=250, fps_num=25, fps_den=1,
                  probe={}),
            SourceSighting(path=raw.decode(), path_bytes=raw, size=1, mtime_ns=1))
    return workspace


class Farm:
    """Flow runs as the planner sees them: each submission is "run" by the next behaviour in the list."""

    def __init__(self, ws: Workspace, behaviours: list[str]) -> None:
        self.ws, self.behaviours = ws, iter(itertools.chain(behaviours, itertools.repeat("render")))
        self.leases = Leases(ws.ledger)
        self.states: dict[int, tuple[str, str]] = {}
        self.submitted: list[list[str]] = []

    def submit(self, asset_ids: list[str]) -> int:
        run_id = len(self.submitted)
        self.submitted.append(asset_ids)
        behaviour = next(self.behaviours)
        profile = self.ws.profile.profile_hash()
        worker = f"w{run_id}"
        if behaviour == "killed":  # claims its first asset, then is never heard from again
            self.leases.claim_next(profile, worker, 2, asset_ids=asset_ids)
            self.states[run_id] = ("RUNNING", "")
        elif behaviour == "thief":  # renders its own, then takes the next asset its planner queued and is killed
            self._render(asset_ids, profile, worker)
            self.leases.claim_next(profile, worker, 2, planner="p")
            self.states[run_id] = ("RUNNING", "")
        elif behaviour == "unreachable":  # cannot reach S3: the flow run fails with exit 3, nothing claimed
            self.states[run_id] = ("FAILED", "exit 3: S3 at 127.0.0.1:9 cannot be reached")
        else:
            self._render(asset_ids, profile, worker)
            self.states[run_id] = ("COMPLETED", "")
        return run_id

    def _render(self, asset_ids: list[str], profile: str, worker: str) -> None:
        while (lease := self.leases.claim_next(profile, worker, 2, asset_ids=asset_ids)) is not None:
            def record(s: Any, stored: str, lease: Any = lease) -> None:
                Ledger.put_proxy(s, lease.asset_id, profile, state="done", proxy_path=Path(stored),
                                 poster_path=Path(stored + ".jpg"))
            self.leases.finish(lease, worker=worker, sha256=lease.asset_id * 4, key=f"k/{lease.asset_id}",
                               store=lambda lease=lease: f"/{worker}/{lease.asset_id}.mp4", record=record)

    def run_states(self, ids: list[Any]) -> dict[Any, tuple[str, str]]:
        return {i: self.states[i] for i in ids}


def test_a_killed_workers_and_a_failed_runs_assets_are_rendered_once_by_another(ws: Workspace) -> None:
    farm = Farm(ws, ["killed", "unreachable"])
    result = run_farm(ws, planner="p", everything=False, scene=None, submit=farm.submit, run_states=farm.run_states,
                      online_workers=3)
    assert result.failed == ()
    rendered = {r.asset_id: r for r in result.rendered}
    assert len(rendered) == 3 and result.farm is not None and (result.farm.flow_runs or 0) >= 4
    killed_asset = farm.submitted[0][0]
    assert rendered[killed_asset].worker not in ("w0", "w1")
    states = Leases(ws.ledger).states(list(rendered), ws.profile.profile_hash())
    assert {s.state for s in states.values()} == {"done"}
    assert states[killed_asset].attempts == 2, "claimed by the killed worker, then once more"
    again = run_farm(ws, planner="q", everything=False, scene=None, submit=farm.submit, run_states=farm.run_states,
                     online_workers=3)
    assert (again.rendered, again.skipped) == ((), 3), "nothing stale is submitted again"


def test_an_asset_another_run_took_is_not_resubmitted_while_held_and_is_once_its_taker_dies(
        ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flow runs take each other's queued assets: the run an asset was submitted with ending without it is no loss
    while the taker holds its lease; the taker killed, the asset is submitted again and rendered once."""
    monkeypatch.setattr(ws.settings.farm, "batch", 1)
    farm = Farm(ws, ["thief"])
    result = run_farm(ws, planner="p", everything=False, scene=None, submit=farm.submit, run_states=farm.run_states,
                      online_workers=1)
    assert result.failed == () and len(result.rendered) == 3
    (again,) = farm.submitted[3:]  # submitted again once, after the taker's lease ran out, not before
    (taken,) = again
    assert taken in (farm.submitted[1][0], farm.submitted[2][0])
    rendered = {r.asset_id: r.worker for r in result.rendered}
    assert rendered[taken] == "w3" and Leases(ws.ledger).states([taken], ws.profile.profile_hash())[taken].attempts == 2


def test_an_asset_no_flow_run_can_finish_is_reported_failed_with_the_last_reason(ws: Workspace) -> None:
    farm = Farm(ws, ["unreachable"] * 10)
    result = run_farm(ws, planner="p", everything=False, scene=None, submit=farm.submit, run_states=farm.run_states,
                      online_workers=1)
    assert result.rendered == () and len(result.failed) == 3
    assert all("2 tries" in (f.reason or "") and "exit 3" in (f.reason or "") for f in result.failed)


def test_a_worker_that_cannot_reach_s3_fails_with_exit_3_and_gives_its_asset_back(ws: Workspace,
                                                                                    tmp_path: Path) -> None:
    from cli_support import closed_port, make_clip

    from assets_manifest.ingest import ingest
    from core.errors import EXIT_ENV, DocfilmError
    from delivery.client import s3_client
    from flows.farm_steps import render_batch

    clip = make_clip(tmp_path / "card" / "shot.mp4", "01:00:00:00", seconds=1)
    [item] = ingest([clip], ws.ledger, scene_ids=ws.scene_ids(), film_rate=None).ingested
    profile = ws.profile.profile_hash()
    Leases(ws.ledger).reserve([item.asset_id], profile, planner="p", ttl_s=60)
    client = s3_client(f"http://127.0.0.1:{closed_port()}", "key", "secret", "us-east-1", max_attempts=1)
    with pytest.raises(DocfilmError) as raised:
        render_batch(ws, client, "docfilm", [item.asset_id], "w1")
    assert raised.value.exit_code == EXIT_ENV, raised.value
    state = Leases(ws.ledger).of_asset(item.asset_id, profile)
    assert state is not None and state.state == "queued", "given back at once, for the planner to hand out again"
    assert ws.ledger.proxies(profile) == {}, "nothing recorded"


def test_render_farm_without_a_prefect_server_is_refused_with_what_to_set(tmp_path: Path) -> None:
    from cli_support import assert_no_traceback, docfilm_cli, user_env

    done = docfilm_cli("render", "--farm", env=user_env(tmp_path / "home"))
    assert done.returncode == 2, done.stderr
    assert "PREFECT_API_URL" in done.stderr and "farm local" in done.stderr
    assert_no_traceback(done)


def test_the_farms_job_command_refuses_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    """`python -m flows.farm_engine` (the work pool's job command) reads DOCFILM_PREFECT_HEARTBEATS itself: a value
    it cannot take is one line in the worker's log and exit 2, before Prefect's engine starts."""
    import subprocess
    import sys

    from cli_support import ROOT, user_env

    p = subprocess.run([sys.executable, "-m", "flows.farm_engine"], capture_output=True, text=True, cwd=ROOT,
                       env=user_env(tmp_path, DOCFILM_PREFECT_HEARTBEATS="perhaps"), timeout=60)  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip() == "docfilm: DOCFILM_PREFECT_HEARTBEATS='perhaps': Input should be a valid boolean, " \
        "unable to interpret input", p.stderr

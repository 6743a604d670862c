"""Acceptance of the render farm: `docfilm farm local --workers 2`, clips ingested with their masters into S3 (the
library then removed: workers share only the database and S3), `render --farm`, one worker killed with SIGKILL
mid-render with its flow run's process tree, and every proxy exactly once in S3 and in the ledger; then SIGTERM
stops the farm in order, with no process left, no port open and no worker's temporary file left.

One of the suite's slowest tests (a PostgreSQL cluster, a Prefect server on it, S3 and two workers start); its
clips are tiny.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from cli_support import DOCFILM, ROOT, assert_no_traceback, docfilm_cli, make_clip, stop_process, user_env
from sqlalchemy import create_engine, text

from farm.local import descendants

CLIPS = 4
LEASE_SECONDS = "6"


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        values[name] = shlex.split(value)[0] if value else ""
    return values


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


class Farm:
    def __init__(self, process: subprocess.Popen[str], home: Path, env_file: Path) -> None:
        self.process, self.home, self.env_file = process, home, env_file

    @property
    def state(self) -> dict[str, object]:
        return json.loads((self.home / "farm" / "farm.json").read_text())


@pytest.fixture(scope="module")
def farm() -> Iterator[Farm]:
    # As root PostgreSQL runs as another user, who must pass through the folders above its data directory.
    top = Path(tempfile.mkdtemp(prefix="docfilm-farm-"))
    top.chmod(0o755)
    home, env_file = top / "home", top / "farm.env"
    env = user_env(home, DOCFILM_FARM_LEASE_SECONDS=LEASE_SECONDS)
    process = subprocess.Popen([str(DOCFILM), "farm", "local", "--workers", "2", "--env-file", str(env_file)],
                               env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()  # printed once everything is up
    if not line.startswith("env file:"):
        process.kill()
        pytest.fail(f"farm local did not start: {line!r} {process.communicate()[1][-3000:]}")
    yield Farm(process, home, env_file)
    if process.poll() is None:  # the test failed before stopping it: stop it the same way, kill only if stuck
        stop_process(process, signal.SIGTERM, 90)
    subprocess.run(["rm", "-rf", str(top)], check=False)


@pytest.mark.timeout(1800)  # a guard, not a measure: ~4 min on 2 quiet cores, 11 under a load of 20
def test_farm_local_renders_every_clip_once_though_a_worker_is_killed_and_stops_clean(farm: Farm,
                                                                                      tmp_path: Path) -> None:
    exported = read_env_file(farm.env_file)
    assert farm.env_file.stat().st_mode & 0o777 == 0o600
    assert set(exported) == {"PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "DOCFILM_DATABASE_URL",
                             "DOCFILM_S3_ENDPOINT_URL", "DOCFILM_S3_BUCKET", "AWS_ACCESS_KEY_ID",
                             "AWS_SECRET_ACCESS_KEY", "DOCFILM_LIBRARY_S3", "DOCFILM_PREFECT_HEARTBEATS"}
    assert all("127.0.0.1" in exported[k] for k in ("PREFECT_API_URL", "DOCFILM_DATABASE_URL",
                                                      "DOCFILM_S3_ENDPOINT_URL"))
    planner = tmp_path / "planner"
    env = user_env(planner, **exported, DOCFILM_FARM_LEASE_SECONDS=LEASE_SECONDS, DOCFILM_FARM_POLL_SECONDS="0.3",
                   DOCFILM_FARM_BATCH="2")  # two flow runs of two clips: one each, and one more for the lost ones
    card = tmp_path / "card"
    for n in range(CLIPS):
        make_clip(card / f"clip{n}.mp4", f"10:00:0{n}:00", seconds=6)
    ingested = docfilm_cli("ingest", str(card), "--json", env=env)
    assert ingested.returncode == 0, ingested.stderr[-3000:]
    assets = {x["asset_id"] for x in json.loads(ingested.stdout)["ingested"]}
    assert len(assets) == CLIPS
    subprocess.run(["rm", "-rf", str(planner / "library")], check=True)  # the workers get masters from S3 only

    state = farm.state
    workers: dict[str, int] = state["workers"]  # type: ignore[assignment]
    engine = create_engine(exported["DOCFILM_DATABASE_URL"])
    render = subprocess.Popen([str(DOCFILM), "render", "--farm", "--json"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        killed, held = "", ""
        deadline = time.monotonic() + 300
        while not killed and time.monotonic() < deadline and render.poll() is None:
            with engine.connect() as conn:
                row = conn.execute(text("SELECT holder, asset_id FROM render_leases WHERE state = 'leased' "
                                        "AND expires_at > now() AT TIME ZONE 'UTC'")).first()
            if row is not None and row[0] in workers:
                killed, held = row[0], row[1]
                tree = [workers[killed], *descendants(workers[killed])]
                os.kill(tree[0], signal.SIGKILL)  # the worker itself must be there to be killed
                for pid in tree[1:]:  # and its flow run's process tree, at once
                    with contextlib.suppress(ProcessLookupError):  # a short-lived child (a probe) may be gone
                        os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        assert killed, "no worker was seen rendering"
        out, err = render.communicate(timeout=600)
        if render.returncode != 0:
            logs = "".join(p.read_text(errors="replace")[-3000:]
                           for p in (farm.home / "farm" / "workers").glob("*/worker.log"))
            pytest.fail(f"render --farm failed ({render.returncode}): {err[-3000:]}\n{logs}")
    finally:
        if render.poll() is None:
            render.kill()
    assert render.returncode == 0, err[-4000:]
    result = json.loads(out)
    assert result["failed"] == []
    rendered = {r["asset_id"]: r for r in result["rendered"]}
    assert set(rendered) == assets
    survivor = next(name for name in workers if name != killed)
    assert rendered[held]["worker"] == survivor, "the killed worker's clip was rendered by the other"
    assert all(r["key"] == f"proxies/{r['key'].split('/')[1]}/{a}.mp4" for a, r in rendered.items())

    # Exactly once: one proxy row, one lease, one object per asset, and the object is the recorded bytes.
    with engine.connect() as conn:
        proxies = conn.execute(text("SELECT asset_id, proxy_key, proxy_sha256, state FROM proxies")).all()
        leases = conn.execute(text("SELECT asset_id, state, worker, attempts FROM render_leases")).all()
    engine.dispose()
    assert sorted(p[0] for p in proxies) == sorted(assets) and {p[3] for p in proxies} == {"done"}
    assert sorted(lease[0] for lease in leases) == sorted(assets) and {lease[1] for lease in leases} == {"done"}
    assert {lease[0]: lease[2] for lease in leases}[held] == survivor
    s3 = boto3.client("s3", endpoint_url=exported["DOCFILM_S3_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id=exported["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=exported["AWS_SECRET_ACCESS_KEY"])
    bucket = exported["DOCFILM_S3_BUCKET"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="proxies/").get("Contents", [])
    mp4s = sorted(o["Key"] for o in listed if o["Key"].endswith(".mp4"))
    assert mp4s == sorted(p[1] for p in proxies)
    for _, key, sha256, _ in proxies:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == sha256, key
    assert len(s3.list_objects_v2(Bucket=bucket, Prefix="masters/").get("Contents", [])) == CLIPS
    shown = docfilm_cli("show", held, "--json", env=env)
    assert shown.returncode == 0, shown.stderr[-2000:]
    proxy = json.loads(shown.stdout)["proxy"]
    assert (proxy["key"], proxy["worker"]) == (rendered[held]["key"], survivor)

    # A flow run's working folder is a temporary folder that only a run ending normally removes: the killed run's is
    # in its worker's scratch folder (TMPDIR), not in the system's /tmp. No run wrote its environment (secrets
    # among it) into a file: each is started as the deployment's engine command, without Prefect's workspace
    # supervisor and its environment manifest.
    scratch = {name: farm.home / "farm" / "workers" / name / "tmp" for name in workers}
    assert list(scratch[killed].glob("tmp*prefect")), sorted(scratch[killed].iterdir())
    assert [p for folder in scratch.values() for p in folder.rglob("*") if "workspace" in p.name] == []

    # SIGTERM: everything stops in order within 60 s, exit 0, no process left, no port open.
    everything = [int(state["pid"]), int(state["server_pid"]), *workers.values()]  # type: ignore[call-overload]
    everything += [pid for pid in list(everything) for pid in descendants(pid)]
    ports = [int(state["postgres_port"]), int(str(state["api_url"]).rsplit(":", 1)[1].split("/")[0]),
             int(exported["DOCFILM_S3_ENDPOINT_URL"].rsplit(":", 1)[1])]
    began = time.monotonic()
    farm.process.send_signal(signal.SIGTERM)
    farm.process.wait(timeout=90)
    assert time.monotonic() - began < 60
    assert farm.process.returncode == 0, farm.process.stderr.read()[-3000:] if farm.process.stderr else ""
    assert [pid for pid in everything if alive(pid)] == []
    assert [port for port in ports if port_open(port)] == []
    assert [folder for folder in scratch.values() if folder.exists()] == [], "workers' temporary files left"
    assert_no_traceback(subprocess.CompletedProcess([], 0, "", err))

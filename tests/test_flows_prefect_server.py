"""docfilm's own start of Prefect's API server: loopback only, a generated auth string, gone with its process."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import PrefectForTests

ROOT = Path(__file__).resolve().parent.parent
DOCFILM = Path(sys.executable).parent / "docfilm"
SAMPLE = Path(__file__).parent / "fixtures" / "samples" / "aac_fixture.m4a"
AUTH_STRING = re.compile(r"docfilm:[A-Za-z0-9_-]{32}")


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user who configured no Prefect (so docfilm starts its own server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.pop("DOCFILM_S3_ENDPOINT_URL", None)
    return env | {"DOCFILM_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"} | extra


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


SERVER_SCRIPT = """
import base64, json, os, sys, urllib.error, urllib.request
from pathlib import Path
from flows.prefect_server import LocalPrefectServer

server = LocalPrefectServer(Path(sys.argv[1]))
server.start()
server.wait_ready()

def post(path, auth, body=b"{}"):
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    request = urllib.request.Request(server.api_url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code

auth = os.environ["PREFECT_API_AUTH_STRING"]
print(json.dumps({"url": server.api_url, "pid": server.process.pid, "env_url": os.environ["PREFECT_API_URL"],
                  "none": post("/flows/filter", None), "wrong": post("/flows/filter", "docfilm:guess"),
                  "right": post("/flows/filter", auth),
                  "created": post("/flows/", auth, json.dumps({"name": "written-by-this-test"}).encode())}),
      flush=True)
sys.stdin.read()  # until killed
"""


def test_server_is_loopback_with_a_generated_auth_string_and_dies_with_its_process(
    tmp_path: Path, prefect_for_tests: PrefectForTests
) -> None:
    home = tmp_path / "prefect"
    prefect_for_tests.seed(tmp_path)  # tmp_path/prefect/prefect.db, migrated: the server starts without migrating
    parent = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT, str(home)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=clean_env(tmp_path),
                              cwd=ROOT)  # fmt: skip
    try:
        assert parent.stdout is not None
        started = json.loads(parent.stdout.readline())
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api", started["url"]) and started["env_url"] == started["url"]
        assert (started["none"], started["wrong"], started["right"]) == (401, 401, 200)
        assert started["created"] in (200, 201) and alive(started["pid"])
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 20
        while alive(started["pid"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(started["pid"]), "the Prefect server outlived the process that started it"
    finally:
        parent.kill()
        parent.wait()
    with sqlite3.connect(home / "prefect.db") as db:  # its database is in the home it was given
        assert db.execute("SELECT name FROM flow").fetchall() == [("written-by-this-test",)]


def _servers_of(prefect_home: Path) -> list[int]:
    """Live processes whose environment names `prefect_home` as PREFECT_HOME (docfilm's server for that home)."""
    wanted = f"PREFECT_HOME={prefect_home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in environ and alive(int(proc.name)):
            found.append(int(proc.name))
    return found


@pytest.mark.slow
def test_a_flow_command_runs_on_its_own_server_in_docfilm_home(
    tmp_path: Path, prefect_for_tests: PrefectForTests
) -> None:
    home = tmp_path / "home"
    prefect_for_tests.seed(home)
    p = subprocess.run([str(DOCFILM), "-v", "ingest", "--json", str(SAMPLE)], capture_output=True, text=True,
                       env=clean_env(home), cwd=ROOT, timeout=300)  # fmt: skip
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)  # the server's output went to stderr, never into the JSON
    assert [Path(x["path"]).name for x in report["ingested"]] == [SAMPLE.name]
    assert "http://127.0.0.1:" in p.stderr
    assert "Finished in state Completed()" in p.stderr  # -v brings Prefect's run lines back
    assert not AUTH_STRING.search(p.stdout + p.stderr), "the server's auth string was printed"
    with sqlite3.connect(home / "prefect" / "prefect.db") as db:
        runs = db.execute("SELECT f.name, r.state_type FROM flow_run r JOIN flow f ON f.id = r.flow_id").fetchall()
    assert runs == [("ingest", "COMPLETED")]
    assert _servers_of(home / "prefect") == [], "the server ended with the command"


def test_a_server_that_cannot_start_is_an_environment_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = clean_env(home, PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db")
    p = subprocess.run([str(DOCFILM), "ingest", "--json", str(SAMPLE)], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=300)  # fmt: skip
    assert p.returncode == 3, (p.returncode, p.stderr[-2000:])
    assert p.stdout == ""
    assert "Prefect server" in p.stderr
    logs = list((home / "prefect").glob("server.*.log"))
    assert len(logs) == 1 and str(logs[0]) in p.stderr  # its own messages are kept, named, and quoted
    assert not (home / "library").exists() or not any((home / "library").rglob("*.m4a"))


def test_flow_runs_on_serves_server_send_no_heartbeats_and_on_a_users_server_they_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docfilm's own servers (a command's, or `docfilm serve`'s) run no automations, the only readers of flow-run
    heartbeats, whose thread each flow run's end waits on: flows there run without them, as on a server said to
    run none (DOCFILM_PREFECT_HEARTBEATS=off). A server the user configured keeps Prefect's setting."""
    from prefect.settings import get_current_settings

    from flows import prefect_server
    from flows.env import prefect_ready

    default = get_current_settings().flows.heartbeat_frequency
    assert default is not None
    monkeypatch.setattr(prefect_server, "_server", None)
    monkeypatch.setattr(prefect_server, "_served", False)
    with prefect_ready():
        assert get_current_settings().flows.heartbeat_frequency == default  # a user's server
    with prefect_ready(heartbeats=False):  # DOCFILM_PREFECT_HEARTBEATS=off: a server said to run no automations
        assert get_current_settings().flows.heartbeat_frequency is None
    monkeypatch.setattr(prefect_server, "_served", True)  # as use_served_server leaves it
    with prefect_ready():
        assert get_current_settings().flows.heartbeat_frequency is None
    assert get_current_settings().flows.heartbeat_frequency == default

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

def post(path, auth):
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    request = urllib.request.Request(server.api_url + path, data=b"{}", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code

auth = os.environ["PREFECT_API_AUTH_STRING"]
print(json.dumps({"url": server.api_url, "pid": server.process.pid, "env_url": os.environ["PREFECT_API_URL"],
                  "none": post("/flows/filter", None), "wrong": post("/flows/filter", "docfilm:guess"),
                  "right": post("/flows/filter", auth)}), flush=True)
if sys.argv[2] == "stop":
    server.stop()
    print(json.dumps({"stopped": True}), flush=True)
else:
    sys.stdin.read()  # until killed
"""


def test_server_is_loopback_with_a_generated_auth_string_and_stops(tmp_path: Path) -> None:
    home = tmp_path / "prefect"
    home.mkdir()
    p = subprocess.run([sys.executable, "-c", SERVER_SCRIPT, str(home), "stop"], capture_output=True, text=True,
                       env=clean_env(tmp_path), cwd=ROOT, timeout=180)  # fmt: skip
    assert p.returncode == 0, p.stderr
    first, second = (json.loads(line) for line in p.stdout.splitlines())
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api", first["url"]) and first["env_url"] == first["url"]
    assert (first["none"], first["wrong"], first["right"]) == (401, 401, 200)
    assert second == {"stopped": True}
    assert not alive(first["pid"])
    assert (home / "prefect.db").is_file()  # its database is in the home it was given


def test_kill_9_of_its_process_takes_the_server_down(tmp_path: Path) -> None:
    home = tmp_path / "prefect"
    home.mkdir()
    parent = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT, str(home), "wait"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=clean_env(tmp_path),
                              cwd=ROOT)  # fmt: skip
    try:
        assert parent.stdout is not None
        started = json.loads(parent.stdout.readline())
        assert started["right"] == 200 and alive(started["pid"])
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 20
        while alive(started["pid"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(started["pid"]), "the Prefect server outlived the process that started it"
    finally:
        parent.kill()
        parent.wait()


@pytest.mark.slow
def test_a_flow_command_runs_on_its_own_server_in_docfilm_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
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


def test_a_server_that_cannot_start_is_an_environment_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = clean_env(home, PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db")
    p = subprocess.run([str(DOCFILM), "ingest", "--json", str(SAMPLE)], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=300)  # fmt: skip
    assert p.returncode == 3, (p.returncode, p.stderr[-2000:])
    assert p.stdout == ""
    assert "Prefect server" in p.stderr
    assert not (home / "library").exists() or not any((home / "library").rglob("*.m4a"))

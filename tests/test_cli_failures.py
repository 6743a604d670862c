"""Known failures from the installed `docfilm`: the README's exit codes, a message naming what is at fault (an
unreachable service as host:port), never a secret, never a traceback, nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_support import (
    CliPipeline,
    PrefectForTests,
    assert_no_traceback,
    closed_port,
    docfilm_cli,
    docfilm_in_process,
    user_env,
)

pytestmark = pytest.mark.slow

KEY_ID = "AKIADOCFILMTESTKEY01"
SECRET = "docfilm-test-secret-Zq8vW3xR5tY7uI9oP1aS"  # must never be printed


def _assert_environment_failure(p: subprocess.CompletedProcess[str], endpoint: str, *secrets: str) -> None:
    """Exit 3, the unreachable service named as host:port on stderr, no secret anywhere, no traceback."""
    assert p.returncode == 3, (p.returncode, p.stderr[-3000:])
    assert endpoint in p.stderr, p.stderr[-3000:]
    for secret in secrets:
        assert secret not in p.stdout + p.stderr, f"{secret!r} was printed"
    assert p.stdout.strip() == "", "a failed command prints no report on stdout"
    assert_no_traceback(p)


def _files(folder: Path) -> dict[Path, int]:
    return {f: f.stat().st_mtime_ns for f in folder.rglob("*") if f.is_file()}


def test_s3_endpoint_down_is_exit_3_naming_it_without_the_secret(
    cli_pipeline: CliPipeline, prefect_for_tests: PrefectForTests
) -> None:
    port = closed_port()
    # One attempt: the request fails as it would after the retries (README, DOCFILM_S3_MAX_ATTEMPTS), unwaited.
    env = prefect_for_tests.env(cli_pipeline.home, DOCFILM_S3_ENDPOINT_URL=f"http://127.0.0.1:{port}",
                                AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET,
                                AWS_DEFAULT_REGION="us-east-1", DOCFILM_S3_MAX_ATTEMPTS="1")  # fmt: skip
    p = docfilm_cli("upload", "--json", env=env)
    _assert_environment_failure(p, f"127.0.0.1:{port}", SECRET)


def test_prefect_api_down_is_exit_3_naming_it_before_anything_is_done(cli_pipeline: CliPipeline) -> None:
    port = closed_port()
    before = _files(cli_pipeline.home / "library")
    env = user_env(cli_pipeline.home, PREFECT_API_URL=f"http://127.0.0.1:{port}/api")
    p = docfilm_cli("ingest", "--json", str(cli_pipeline.card), env=env)
    _assert_environment_failure(p, f"127.0.0.1:{port}")
    assert "PREFECT_API_URL" in p.stderr, p.stderr[-3000:]
    assert _files(cli_pipeline.home / "library") == before


def test_wrong_s3_secret_is_exit_3_naming_the_endpoint(
    cli_pipeline: CliPipeline, prefect_for_tests: PrefectForTests, embedded_s3: Any
) -> None:
    endpoint = embedded_s3.endpoint_url.removeprefix("http://")
    env = prefect_for_tests.env(cli_pipeline.home, DOCFILM_S3_ENDPOINT_URL=embedded_s3.endpoint_url,
                                DOCFILM_S3_BUCKET=embedded_s3.bucket, AWS_ACCESS_KEY_ID=embedded_s3.access_key,
                                AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1")  # fmt: skip
    p = docfilm_cli("upload", "--json", env=env)
    _assert_environment_failure(p, endpoint, SECRET, embedded_s3.secret_key)


def test_only_the_hosted_copy_failing_is_exit_1_with_the_offline_packet_written(
    cli_pipeline: CliPipeline, prefect_for_tests: PrefectForTests, tmp_path: Path
) -> None:
    port = closed_port()
    packets = tmp_path / "packets"
    env = prefect_for_tests.env(cli_pipeline.home, DOCFILM_S3_ENDPOINT_URL=f"http://127.0.0.1:{port}",
                                AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET,
                                AWS_DEFAULT_REGION="us-east-1", DOCFILM_PACKETS_DIR=str(packets),
                                DOCFILM_S3_MAX_ATTEMPTS="1")  # fmt: skip
    p = docfilm_cli("packet", "--as-of", "2019-05-20", "--json", env=env)
    assert p.returncode == 1, (p.returncode, p.stderr[-3000:])
    assert_no_traceback(p)
    assert SECRET not in p.stdout + p.stderr
    packet = json.loads(p.stdout)
    index = Path(packet["path"])
    assert index.is_file() and index.is_relative_to(packets)
    assert (packet["scenes"], packet["as_of"]) == (14, "2019-05-20")
    assert packet["assets"] >= len(json.loads(cli_pipeline.run.stdout)["ingest"]["ingested"])  # others may add
    assert not packet.get("hosted_url")
    assert f"127.0.0.1:{port}" in p.stderr  # why the hosted copy is missing
    check = docfilm_cli("packet", "--verify", str(index.parent), "--json", env=env)
    assert check.returncode == 0, check.stdout + check.stderr  # complete, not half-written


def test_ledger_database_unreachable_is_exit_3_without_the_password(
    cli_pipeline: CliPipeline, prefect_for_tests: PrefectForTests, tmp_path: Path
) -> None:
    port = closed_port()
    home = tmp_path / "home"
    env = prefect_for_tests.env(home, DOCFILM_DATABASE_URL=f"postgresql+psycopg://u:secretpw@127.0.0.1:{port}/db")
    for args in (["status", "--json"], ["ingest", "--json", str(cli_pipeline.card)]):
        p = docfilm_cli(*args, env=env)
        _assert_environment_failure(p, f"127.0.0.1:{port}", "secretpw")
        assert "DOCFILM_DATABASE_URL" in p.stderr, "the message names the setting to fix"
    assert not (home / "library").exists() or not _files(home / "library"), "nothing copied without a ledger"


@pytest.mark.parametrize("setting", ["DOCFILM_FFMPEG", "DOCFILM_FONT_FILE"])
def test_ffmpeg_or_font_missing_is_exit_3_naming_the_file(
    cli_pipeline: CliPipeline, prefect_for_tests: PrefectForTests, tmp_path: Path, setting: str
) -> None:
    missing = tmp_path / "nowhere" / ("ffmpeg" if setting == "DOCFILM_FFMPEG" else "Font.ttf")
    renders = _files(cli_pipeline.home / "renders")
    # --all: there is work to do, so the tool is needed.
    env = prefect_for_tests.env(cli_pipeline.home, **{setting: str(missing)})
    p = docfilm_cli("render", "--all", "--json", env=env)
    assert p.returncode == 3, (p.returncode, p.stderr[-3000:])
    assert str(missing) in p.stderr and setting in p.stderr, p.stderr[-3000:]  # the file, and the setting to fix
    assert p.stdout.strip() == ""
    assert_no_traceback(p)
    assert _files(cli_pipeline.home / "renders") == renders, "nothing rendered or removed"


def test_a_notes_file_that_cannot_be_read_is_exit_2_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "notes_folder.json"
    folder.mkdir()
    binary = tmp_path / "notes_binary.json"
    binary.write_bytes(os.urandom(4096) + b"\xff\xfe\x00")
    missing = tmp_path / "notes_missing.json"
    env = user_env(tmp_path / "home")
    # The installed script for the first; the others by its own app in this process (the same error map; a
    # `docfilm` start costs ~1 s of CPU).
    for target, run in ((folder, docfilm_cli), (missing, docfilm_in_process), (binary, docfilm_in_process)):
        p = run("notes", "import", str(target), env=env)
        assert p.returncode == 2, (target.name, p.returncode, p.stderr[-3000:])
        assert target.name in p.stderr, p.stderr[-3000:]
        assert_no_traceback(p)


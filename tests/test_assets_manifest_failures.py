"""What the machine could not do is not bad media: a full library disk, a vanished or unreadable source, an
unwritable ledger (an unreachable ledger server: test_cli_failures). Each is named with the OS's or the server's
reason, leaves nothing half-written, and the next run with room (or access) finishes the job."""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_support import PrefectForTests
from test_assets_manifest_offload import make_wav, partials

from assets_manifest.errors import (
    LedgerUnavailable,
    ManifestError,
    ProbeFailed,
    SourceMissing,
    UnknownScene,
)
from assets_manifest.hashing import digest_file
from assets_manifest.ingest import ingest
from assets_manifest.ledger import Ledger
from assets_manifest.settings import LedgerSettings
from core.errors import EXIT_ENV, EXIT_INPUT, EXIT_PARTIAL, DocfilmError

ROOT = Path(__file__).resolve().parent.parent
DOCFILM = Path(sys.executable).parent / "docfilm"

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def ledger(home: Path, database_url: str | None) -> Iterator[Ledger]:
    """The ledger on SQLite and on PostgreSQL (conftest's `database_url`)."""
    led = Ledger.open(LedgerSettings(home=home, database_url=database_url))
    yield led
    led.close()


def _without_dac_override() -> None:
    """In the child, before exec: root loses the right to ignore file permissions, so chmod 000 means no."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@dataclass
class LimitedLibrary:
    """A library folder that cannot hold a file of `big_seconds` of WAV, until `make_room()`.

    A small tmpfs where this process may mount one (root), else a file-size limit on the docfilm process
    (RLIMIT_FSIZE; Python ignores SIGXFSZ, so the write fails with EFBIG instead of killing it).
    """

    path: Path
    big_seconds: float
    reason: str  # the OS's words for the failed write
    mounted: bool
    limited: bool = True

    def make_room(self) -> None:
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,size=64m", str(self.path)], check=True)
        self.limited = False

    def preexec(self, unreadable_for_root: bool) -> Callable[[], None]:
        def setup() -> None:
            if self.limited and not self.mounted:
                resource.setrlimit(resource.RLIMIT_FSIZE, (48 * 2**20, 48 * 2**20))
            if unreadable_for_root and os.geteuid() == 0:
                _without_dac_override()

        return setup


@contextmanager
def limited_library(path: Path) -> Iterator[LimitedLibrary]:
    path.mkdir(parents=True)
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(path)], capture_output=True
    ).returncode == 0
    try:
        if mounted:
            yield LimitedLibrary(path, big_seconds=6, reason="No space left on device", mounted=True)
        else:
            yield LimitedLibrary(path, big_seconds=360, reason="File too large", mounted=False)
    finally:
        if mounted:
            subprocess.run(["umount", str(path)], check=True)


def docfilm(*args: str, home: Path, library: Path, prefect: PrefectForTests,
            preexec: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command on the session's Prefect server (the subject here is ingest, not Prefect's start)."""
    env = prefect.env(home, DOCFILM_LIBRARY=str(library))
    return subprocess.run([str(DOCFILM), *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
                          preexec_fn=preexec)


@pytest.mark.slow
def test_full_library_disk_and_unreadable_source_are_failed_not_quarantined(
    tmp_path: Path, home: Path, prefect_for_tests: PrefectForTests
) -> None:
    card = tmp_path / "A001"
    with limited_library(tmp_path / "library") as lib:
        make_wav(card / "a.wav", seed=1)
        big = make_wav(card / "big.wav", seconds=lib.big_seconds, seed=2)
        make_wav(card / "c.wav", seed=3)
        locked = make_wav(card / "locked.wav", seed=4)
        locked.chmod(0)

        p = docfilm("ingest", "--json", str(card), home=home, library=lib.path, prefect=prefect_for_tests,
                    preexec=lib.preexec(True))
        assert p.returncode == EXIT_PARTIAL, p.stderr[-3000:]
        assert "Traceback" not in p.stderr
        report = json.loads(p.stdout)
        assert [Path(x["path"]).name for x in report["ingested"]] == ["a.wav", "c.wav"], "the others go on"
        assert report["quarantined"] == [], "a copy the machine could not make is not bad media"
        failed = {Path(f["path"]).name: f["reason"] for f in report["failed"]}
        assert set(failed) == {"big.wav", "locked.wav"}
        assert lib.reason in failed["big.wav"] and str(lib.path) in failed["big.wav"]
        assert "Permission denied" in failed["locked.wav"]
        assert not partials(lib.path), "the temporary copy is removed"
        assert not (lib.path / "A001" / "big.wav").exists() and not (lib.path / "A001" / "locked.wav").exists()

        ledger = Ledger.open(LedgerSettings(home=home))
        try:
            assert ledger.asset_by_sha256(digest_file(big).sha256) is None, "the ledger does not call it ingested"
            assert ledger.quarantined() == []
        finally:
            ledger.close()

        lib.make_room()
        locked.chmod(0o644)
        again = docfilm("ingest", str(card), home=home, library=lib.path, prefect=prefect_for_tests,
                        preexec=lib.preexec(False))
        assert again.returncode == 0, again.stderr[-3000:]
        lines = again.stdout.splitlines()
        assert {ln.rsplit("/", 1)[-1] for ln in lines if ln.startswith("ingested")} == {"big.wav", "locked.wav"}
        assert {ln.rsplit("/", 1)[-1] for ln in lines if ln.startswith("already in the library")} == {"a.wav",
                                                                                                       "c.wav"}
        assert not any(ln.startswith("duplicate") for ln in lines)
        assert digest_file(lib.path / "A001" / "big.wav").sha256 == digest_file(big).sha256


def test_a_source_that_vanishes_mid_ingest_is_failed_and_ingested_once_back(tmp_path: Path, ledger: Ledger,
                                                                              home: Path) -> None:
    card = tmp_path / "B001"
    for i, name in enumerate(("a.wav", "b.wav", "c.wav")):
        make_wav(card / name, seed=10 + i)
    gone = card / "b.wav"
    kept = gone.read_bytes()
    lib = home / "library"

    def pull_the_card(path: Path) -> None:
        # Called for each file after the walk listed it and before it is read: b.wav vanishes in between.
        if path == gone:
            gone.unlink()

    report = ingest([card], ledger, scene_ids=set(), library=lib, on_file=pull_the_card)
    assert [Path(x.path).name for x in report.ingested] == ["a.wav", "c.wav"]
    (failed,) = report.failed
    assert failed.path == str(gone) and "No such file or directory" in failed.reason
    assert report.quarantined == () and ledger.quarantined() == []
    assert report.to_json()["failed"] == [{"path": str(gone), "reason": failed.reason}]
    assert not (lib / "B001" / "b.wav").exists() and not partials(lib)

    gone.write_bytes(kept)
    again = ingest([card], ledger, scene_ids=set(), library=lib)
    assert [Path(x.path).name for x in again.ingested] == ["b.wav"]
    assert sorted(Path(d.path).name for d in again.duplicates) == ["a.wav", "c.wav"]
    assert again.failed == () and again.complete


def test_a_source_replaced_by_something_unreadable_mid_ingest_is_failed(tmp_path: Path, ledger: Ledger,
                                                                         home: Path) -> None:
    card = tmp_path / "C001"
    make_wav(card / "a.wav", seed=20)
    odd = make_wav(card / "b.wav", seed=21)

    def swap(path: Path) -> None:
        if path == odd:  # listed as a file, read as a folder (a card remounted, a sync tool at work)
            odd.unlink()
            odd.mkdir()

    report = ingest([card], ledger, scene_ids=set(), library=home / "library", on_file=swap)
    assert [Path(x.path).name for x in report.ingested] == ["a.wav"]
    (failed,) = report.failed
    assert failed.path == str(odd) and "Is a directory" in failed.reason
    assert report.quarantined == () and not partials(home / "library")


def test_unwritable_sqlite_ledger_names_its_file(tmp_path: Path) -> None:
    blocker = tmp_path / "home"
    blocker.write_text("a file where DOCFILM_HOME should be a folder\n")
    with pytest.raises(LedgerUnavailable) as caught:
        Ledger.open(LedgerSettings(home=blocker / "sub"))
    assert str(blocker / "sub" / "ledger.sqlite") in str(caught.value)
    assert caught.value.exit_code == EXIT_ENV


def test_manifest_errors_carry_their_exit_codes() -> None:
    assert issubclass(ManifestError, DocfilmError) and issubclass(ProbeFailed, ManifestError)
    assert SourceMissing("x").exit_code == EXIT_INPUT and UnknownScene("x").exit_code == EXIT_INPUT
    assert LedgerUnavailable("x").exit_code == EXIT_ENV

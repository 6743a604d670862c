"""Names the way cards and shared drives bring them: NFD and NFC twins, quotes, newlines, `$()`, long names."""

from __future__ import annotations

import os
import subprocess
import unicodedata
from pathlib import Path

import pytest
from test_assets_manifest_offload import make_wav, mhl_verify, state

from assets_manifest.ingest import ingest
from assets_manifest.ledger import Ledger
from assets_manifest.naming import NAME_MAX, library_name, numbered
from assets_manifest.settings import LedgerSettings
from assets_manifest.verify import verify_library


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


LONG = "Phỏng vấn Bí thư Thành ủy Cần Thơ về xây dựng Đảng " * 3  # ~170 characters, ~220 bytes in NFC


@pytest.mark.skipif(os.uname().sysname == "Darwin", reason="APFS/HFS+ cannot hold NFC and NFD twins")
def test_awkward_names_survive_without_a_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    card = os.fsencode(tmp_path / "-card $(whoami)")
    names: list[bytes] = [
        "café.wav".encode(),                     # NFC
        nfd("café.wav").encode(),                # NFD twin: other bytes, same NFC name
        b"it's \"quoted\".wav",
        b"two  spaces and\ttab.wav",
        b"new\nline.wav",
        b"$(touch pwned).wav",
        b"-rf.wav",
        b"--help.wav",
        (LONG[: 200] + ".wav").encode(),
        nfd(LONG[: 200] + ".wav").encode()[: NAME_MAX - 4] + b".wav",  # its NFD twin, cut to fit the disk
        b"caf\xe9 latin-1.wav",                  # not UTF-8 at all (an old card from a Windows PC)
        b"sub folder/$(x) `y` 'z'/clip.wav",
    ]
    for i, raw in enumerate(names):
        path = os.path.join(card, raw)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        make_wav(Path(os.fsdecode(path)), seed=i)
    src = Path(os.fsdecode(card))
    before = state(src)
    # No shell, no process at all: every name reaches the OS as one argument.
    monkeypatch.setattr(subprocess, "Popen", _no_process)
    monkeypatch.setattr(os, "system", _no_process)
    # A shell handed `$(touch pwned).wav` would create `pwned` in its working folder, which is ours: make that
    # a folder of this test, so the check below looks where the file would land.
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    home = tmp_path / "home"
    ledger = Ledger.open(LedgerSettings(home=home))
    try:
        report = ingest([src], ledger, scene_ids=set(), library=home / "library")
        monkeypatch.undo()
        assert not report.quarantined and not report.duplicates, report.quarantined
        assert len(report.ingested) == len(names), "different bytes are different assets, whatever their names"
        assert not (workdir / "pwned").exists() and not list(tmp_path.rglob("pwned")), "a shell ran a file name"
        assert state(src) == before
        folder = home / "library" / "-card $(whoami)"
        on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*.wav")}
        assert "café.wav" in on_disk and "café (2).wav" in on_disk, "the NFC twins both survive"
        assert "new%0Aline.wav" in on_disk and "two  spaces and%09tab.wav" in on_disk
        assert "caf%E9 latin-1.wav" in on_disk
        assert {"it's \"quoted\".wav", "$(touch pwned).wav", "-rf.wav", "--help.wav",
                "sub folder/$(x) `y` 'z'/clip.wav"} <= on_disk
        assert all(len(Path(n).name.encode()) <= NAME_MAX for n in on_disk)
        assert all(unicodedata.is_normalized("NFC", n) for n in on_disk)
        # Keys and display are NFC; the original bytes are kept.
        kept = {a.path_bytes for a in ledger.assets()}
        assert {os.path.join(card, raw) for raw in names} == kept
        for a in ledger.assets():
            assert unicodedata.is_normalized("NFC", a.name)
        for x in report.ingested:
            assert unicodedata.is_normalized("NFC", x.path)
        assert mhl_verify(folder).returncode == 0
        result = verify_library(ledger, home / "library")
        assert result.mismatched == () and result.missing == () and result.unlisted == ()
        again = ingest([src], ledger, scene_ids=set(), library=home / "library")
        assert len(again.duplicates) == len(names) and not again.ingested, "a second run copies nothing"
    finally:
        ledger.close()


def _no_process(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"ingest started a process: {args!r}")


def test_library_name_rules() -> None:
    assert library_name(nfd("Cần Thơ.mov")) == "Cần Thơ.mov"
    assert library_name("a\rb\x00c\x7f.mov") == "a%0Db%00c%7F.mov"
    assert library_name(os.fsdecode(b"\xff\xfe.mov")) == "%FF%FE.mov"
    long = library_name("ầ" * 200 + ".mov")
    assert long.endswith(".mov") and len(long.encode()) <= NAME_MAX
    assert numbered("clip.mov", 2) == "clip (2).mov" and numbered(".profile", 3) == ".profile (3)"
    assert len(numbered("ầ" * 84 + ".mov", 12).encode()) <= NAME_MAX

"""ASC MHL generations next to the library copy, checked by the reference implementation (ascmhl 1.2)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cli_support import user_env
from test_assets_manifest_offload import make_wav, mhl_verify

from assets_manifest import mhl
from assets_manifest.hashing import c4_bytes, hash_file_as
from assets_manifest.ingest import ingest
from assets_manifest.ledger import Ledger
from assets_manifest.settings import LedgerSettings
from assets_manifest.verify import verify_library

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
XSD = Path(__file__).parent / "fixtures" / "ascmhl"
SAMPLES = Path(__file__).parent / "fixtures" / "samples"
NS = {"m": mhl.NS}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def ledger(home: Path) -> Ledger:
    led = Ledger.open(LedgerSettings(home=home))
    yield led
    led.close()


def ascmhl(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "ascmhl"), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def ascmhl_debug(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "ascmhl-debug"), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_generations_chain_and_reference_verify(tmp_path: Path, ledger: Ledger, home: Path) -> None:
    card = tmp_path / "A001_Cần Thơ"
    shutil.copytree(SAMPLES, card / "CLIPS", ignore=shutil.ignore_patterns("*.md", "*.tsv"))
    lib = home / "library"
    first = ingest([card], ledger, scene_ids=set(), library=lib)
    folder = lib / "A001_Cần Thơ"
    (gen1,) = [Path(p) for p in first.mhl]
    assert gen1.parent == folder / "ascmhl"
    assert re.fullmatch(r"0001_A001_Cần_Thơ_\d{4}-\d\d-\d\d_\d{6}Z\.mhl", gen1.name)

    doc = ET.parse(gen1).getroot()
    assert doc.tag == f"{{{mhl.NS}}}hashlist" and doc.get("version") == "2.0"
    assert doc.findtext("m:creatorinfo/m:tool", namespaces=NS) == "docfilm"
    assert doc.find("m:creatorinfo/m:tool", NS).get("version")
    assert doc.findtext("m:creatorinfo/m:hostname", namespaces=NS)
    assert doc.findtext("m:creatorinfo/m:creationdate", namespaces=NS)
    hashes = doc.findall("m:hashes/m:hash", NS)
    assert len(hashes) == 13, "every file of the card, the quarantined ones too"
    for h in hashes:
        rel = h.findtext("m:path", namespaces=NS)
        value = h.find("m:xxh128", NS)
        assert value.get("action") == "original" and value.get("hashdate")
        assert value.text == hash_file_as(folder / rel, "xxh128")
        assert int(h.find("m:path", NS).get("size")) == (folder / rel).stat().st_size

    chain = ET.parse(folder / "ascmhl" / "ascmhl_chain.xml").getroot()
    entries = chain.findall(f"{{{mhl.DIRECTORY_NS}}}hashlist")
    assert [e.get("sequencenr") for e in entries] == ["1"]
    assert entries[0].findtext(f"{{{mhl.DIRECTORY_NS}}}c4") == c4_bytes(gen1.read_bytes())

    # Both files are valid against the ASC MHL v2.0 schemas, as the reference tool checks them.
    assert ascmhl_debug("xsd-schema-check", str(gen1), "-xsd", str(XSD / "ASCMHL.xsd")).returncode == 0
    chain_check = ascmhl_debug("xsd-schema-check", str(folder / "ascmhl" / "ascmhl_chain.xml"), "-df", "-xsd",
                               str(XSD / "ASCMHLDirectory__combined.xsd"), cwd=tmp_path)
    assert chain_check.returncode == 0, chain_check.stdout + chain_check.stderr
    check = mhl_verify(folder)
    assert check.returncode == 0, check.stdout + check.stderr

    # A second ingest with one new clip adds generation 2 and never touches generation 1.
    gen1_bytes, gen1_mtime = gen1.read_bytes(), gen1.stat().st_mtime_ns
    make_wav(card / "SOUND" / "A001_T1.wav")
    second = ingest([card], ledger, scene_ids=set(), library=lib)
    (gen2,) = [Path(p) for p in second.mhl]
    assert gen2.name.startswith("0002_")
    assert gen1.read_bytes() == gen1_bytes and gen1.stat().st_mtime_ns == gen1_mtime
    listed = {h.findtext("m:path", namespaces=NS): h.find("m:xxh128", NS).get("action")
              for h in ET.parse(gen2).getroot().findall("m:hashes/m:hash", NS)}
    assert listed["SOUND/A001_T1.wav"] == "original"
    assert "CLIPS/android_portrait_4k60.mp4" not in listed, "a master already verified is not hashed again"
    history = mhl.read_history(folder)
    assert [c.number for c in history.chain] == [1, 2] and history.problems() == []
    assert mhl_verify(folder).returncode == 0
    assert ascmhl("info", str(folder)).returncode == 0


def test_one_altered_byte_is_reported_by_both_verifiers(tmp_path: Path, ledger: Ledger, home: Path) -> None:
    card = tmp_path / "B001"
    for i in range(3):
        make_wav(card / f"take{i}.wav", seed=i)
    (card / "notes.txt").write_text("sidecar, not media\n")
    lib = home / "library"
    ingest([card], ledger, scene_ids=set(), library=lib)
    folder = lib / "B001"
    victim = folder / "take1.wav"
    os.chmod(victim, 0o644)
    with open(victim, "r+b") as f:  # one byte, the size unchanged: bit rot
        f.seek(5000)
        b = f.read(1)
        f.seek(5000)
        f.write(bytes([b[0] ^ 0xFF]))

    ref = mhl_verify(folder)
    assert ref.returncode != 0
    out = ref.stdout + ref.stderr
    assert re.findall(r"hash mismatch\s+for (\S+)", out) == ["take1.wav"]

    env = user_env(home)
    p = subprocess.run([str(BIN / "docfilm"), "verify", "--json"], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=120)
    assert p.returncode == 1, p.stderr
    result = json.loads(p.stdout)
    assert [m["path"] for m in result["mismatched"]] == [str(victim)]
    (bad,) = result["mismatched"]
    assert sorted(bad["against"]) == ["ascmhl", "ledger"]
    assert bad["asset_id"] == ledger.asset_by_path(str(victim)).asset_id, "the asset is named, not null"
    assert bad["expected_sha256"] != bad["found_sha256"] and bad["expected_xxh128"] != bad["found_xxh128"]
    assert bad["generation"] == 1
    assert result["missing"] == [] and result["checked"] == 4

    # A sidecar (in the MHL, not an asset) that disappears is missing for docfilm verify too.
    os.unlink(folder / "notes.txt")
    again = verify_library(ledger, lib)
    assert [m.path for m in again.missing] == [str(folder / "notes.txt")]


def test_a_modified_generation_and_a_stray_file_are_noticed(tmp_path: Path, ledger: Ledger, home: Path) -> None:
    card = tmp_path / "C001"
    make_wav(card / "a.wav")
    lib = home / "library"
    report = ingest([card], ledger, scene_ids=set(), library=lib)
    gen = Path(report.mhl[0])
    (lib / "C001" / "stray.txt").write_text("dropped here by hand\n")
    result = verify_library(ledger, lib)
    assert list(result.unlisted) == [str(lib / "C001" / "stray.txt")] and not result.mismatched
    os.chmod(gen, 0o644)
    gen.write_bytes(gen.read_bytes().replace(b"docfilm</tool>", b"someone</tool>"))
    result = verify_library(ledger, lib)
    assert [m.path for m in result.mismatched] == [str(gen)]
    assert "modified" in result.mismatched[0].reason


def test_reference_tool_continues_our_history_and_we_continue_its(tmp_path: Path, ledger: Ledger,
                                                                  home: Path) -> None:
    card = tmp_path / "D001"
    make_wav(card / "a.wav")
    lib = home / "library"
    ingest([card], ledger, scene_ids=set(), library=lib)
    folder = lib / "D001"
    made = ascmhl("create", str(folder), "-h", "xxh128")
    assert made.returncode == 0, made.stdout + made.stderr
    make_wav(card / "b.wav", seed=5)
    ours = ingest([card], ledger, scene_ids=set(), library=lib)
    assert Path(ours.mhl[0]).name.startswith("0003_")
    history = mhl.read_history(folder)
    assert [c.number for c in history.chain] == [1, 2, 3] and history.problems() == []
    assert mhl_verify(folder).returncode == 0


def test_a_run_that_died_before_its_generation_is_completed_by_the_next(tmp_path: Path, ledger: Ledger,
                                                                         home: Path) -> None:
    """Files copied and recorded, then the process died before the generation: the next run lists them."""
    card = tmp_path / "E001"
    make_wav(card / "a.wav")
    lib = home / "library"
    report = ingest([card], ledger, scene_ids=set(), library=lib)
    gen = Path(report.mhl[0])
    gen.unlink()
    (gen.parent / "ascmhl_chain.xml").unlink()
    again = ingest([card], ledger, scene_ids=set(), library=lib)
    assert len(again.duplicates) == 1 and len(again.mhl) == 1
    assert mhl_verify(lib / "E001").returncode == 0

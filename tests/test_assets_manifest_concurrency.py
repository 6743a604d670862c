"""Two ingests into one ledger at once, and one during a render's ledger traffic: real processes, on the embedded
SQLite ledger and on a PostgreSQL server (conftest's `database_url`)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlalchemy import func, select
from test_assets_manifest_offload import make_wav, mhl_verify

from assets_manifest.hashing import digest_file
from assets_manifest.ledger import Ledger
from assets_manifest.settings import LedgerSettings
from assets_manifest.store import Asset, SourceSighting

ROOT = Path(__file__).resolve().parent.parent

INGEST = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from assets_manifest.ingest import ingest
    from assets_manifest.ledger import Ledger
    from assets_manifest.settings import LedgerSettings
    home, card, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    Path(sys.argv[4]).touch()  # imported: ready to be released
    while not go.exists():
        time.sleep(0.001)
    ledger = Ledger.open(LedgerSettings(home=home, database_url=sys.argv[5] or None))
    report = ingest([card], ledger, scene_ids=set(), library=home / "library")
    print(json.dumps({k: len(v) for k, v in report.to_json().items()}))
""")

# What a render does to the ledger: read what is stale, write a proxy row per asset, over and over.
RENDER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from assets_manifest.ledger import Ledger
    from assets_manifest.settings import LedgerSettings
    home, go, stop = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    Path(sys.argv[4]).touch()
    while not go.exists():
        time.sleep(0.001)
    ledger = Ledger.open(LedgerSettings(home=home, database_url=sys.argv[5] or None))
    rounds = writes = 0
    while not stop.exists():
        ledger.render_states("profile-x")
        done = ledger.proxies("profile-x")
        for asset in [x for x in ledger.assets() if x.asset_id not in done][:5]:
            ledger.record_proxy(asset.asset_id, "profile-x", state="done", qc=None, reason=f"round {rounds}")
            writes += 1
        rounds += 1
    print(json.dumps({"rounds": rounds, "writes": writes}))
""")


def _release_together(ready: list[Path], go: Path, timeout: float = 60) -> None:
    """Wait until every process has imported what it needs (its ready file), then release them all at once."""
    deadline = time.monotonic() + timeout
    while not all(r.exists() for r in ready):
        assert time.monotonic() < deadline, f"not ready within {timeout} s: {[r.name for r in ready if not r.exists()]}"
        time.sleep(0.01)
    go.touch()


def test_two_ingests_and_a_render_at_once(tmp_path: Path, database_url: str | None) -> None:
    home = tmp_path / "home"
    a, b = tmp_path / "A001", tmp_path / "B001"
    for i in range(60):
        make_wav(a / f"a{i:02d}.wav", seconds=0.05, seed=i)
        make_wav(b / f"b{i:02d}.wav", seconds=0.05, seed=1000 + i)
    for i in range(10):  # the same takes on both cards: one asset each, whoever wins the race
        shutil.copy2(a / f"a{i:02d}.wav", b / f"same{i:02d}.wav")
    go, stop = tmp_path / "go", tmp_path / "stop"
    ready = [tmp_path / "A001.ready", tmp_path / "B001.ready", tmp_path / "render.ready"]
    procs = [subprocess.Popen([sys.executable, "-c", INGEST, str(home), str(card), str(go), str(flag),
                               database_url or ""], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for card, flag in zip((a, b), ready, strict=False)]
    render = subprocess.Popen([sys.executable, "-c", RENDER, str(home), str(go), str(stop), str(ready[2]),
                               database_url or ""], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _release_together(ready, go)
    outs = [p.communicate(timeout=300) for p in procs]
    stop.touch()
    r_out, r_err = render.communicate(timeout=120)
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
        assert "database is locked" not in err
    assert render.returncode == 0, r_err[-3000:]
    counts = [json.loads(out) for out, _ in outs]
    assert sum(c["ingested"] + c["duplicates"] for c in counts) == 130 and all(c["quarantined"] == 0 for c in counts)
    assert sum(c["ingested"] for c in counts) == 120, "10 shared takes are one asset each"

    if database_url is None:
        with sqlite3.connect(home / "ledger.sqlite") as con:
            assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    ledger = Ledger.open(LedgerSettings(home=home, database_url=database_url))
    try:
        with ledger.session() as s:
            assert s.scalar(select(func.count()).select_from(Asset)) == 120
            assert s.scalar(select(func.count()).select_from(SourceSighting)) == 130
        masters = [Path(x.path) for x in ledger.assets()]
        assert all(digest_file(p).sha256 == x.sha256 for p, x in zip(masters, ledger.assets(), strict=True))
        lib = home / "library"
        on_disk = sorted(p for p in lib.rglob("*.wav"))
        assert sorted(masters) == on_disk, "no lost copy, no spare copy"
        render_stats = json.loads(r_out)
        assert render_stats["rounds"] > 0
        assert render_stats["writes"] > 0 and len(ledger.proxies("profile-x")) == render_stats["writes"]
    finally:
        ledger.close()
    for card in ("A001", "B001"):
        check = mhl_verify(home / "library" / card)
        assert check.returncode == 0, check.stdout + check.stderr


def test_two_ingests_of_the_same_card_at_once(tmp_path: Path, database_url: str | None) -> None:
    """Both copy the same files: one copy of each survives, under its own name, in both MHL generations."""
    home, card, go = tmp_path / "home", tmp_path / "A001", tmp_path / "go"
    for i in range(30):
        make_wav(card / f"a{i:02d}.wav", seconds=0.2, seed=i)
    ready = [tmp_path / "p0.ready", tmp_path / "p1.ready"]
    procs = [subprocess.Popen([sys.executable, "-c", INGEST, str(home), str(card), str(go), str(flag),
                               database_url or ""], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for flag in ready]
    _release_together(ready, go)
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    counts = [json.loads(out) for out, _ in outs]
    warnings = [line for _out, err in outs for line in err.splitlines() if "WARNING" in line or "ERROR" in line]
    assert sum(c["ingested"] for c in counts) == 30 and sum(c["duplicates"] for c in counts) == 30, warnings
    folder = home / "library" / "A001"
    assert sorted(p.name for p in folder.glob("*.wav")) == sorted(p.name for p in card.glob("*.wav"))
    assert len(list((folder / "ascmhl").glob("*.mhl"))) == sum(c["mhl_generations"] for c in counts)
    check = mhl_verify(folder)
    assert check.returncode == 0, check.stdout + check.stderr

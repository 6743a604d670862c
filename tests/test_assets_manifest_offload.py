"""The verified offload into the library, against real files: copies read back, damaged copies, kill -9."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import pytest

from assets_manifest.copying import PARTIAL_SUFFIX, remove_abandoned_partials, verified_copy
from assets_manifest.errors import CopyVerificationFailed
from assets_manifest.hashing import digest_file, xxh128_file
from assets_manifest.ingest import ingest
from assets_manifest.ledger import Ledger
from assets_manifest.settings import LedgerSettings
from assets_manifest.verify import verify_library

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(__file__).parent / "fixtures" / "samples"
ASCMHL_DEBUG = Path(sys.executable).parent / "ascmhl-debug"


def make_wav(path: Path, seconds: float = 0.2, seed: int = 0, rate: int = 48000) -> Path:
    """A real 16-bit stereo WAV of noise; different seeds give different bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(rng.randbytes(int(rate * seconds) * 4))
    return path


def state(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Size, mtime and SHA-256 of every file under a folder."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, digest_file(p).sha256)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(f"*{PARTIAL_SUFFIX}") if p.is_file()] if folder.exists() else []


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def ledger(home: Path) -> Ledger:
    led = Ledger.open(LedgerSettings(home=home))
    yield led
    led.close()


def mhl_verify(folder: Path) -> subprocess.CompletedProcess[str]:
    """The reference implementation's verify (ascmhl 1.2 ships it in ascmhl-debug)."""
    return subprocess.run([str(ASCMHL_DEBUG), "verify", str(folder)], capture_output=True, text=True, timeout=120)


def test_samples_are_copied_verified_and_sources_untouched(tmp_path: Path, ledger: Ledger, home: Path) -> None:
    card = tmp_path / "samples"
    shutil.copytree(SAMPLES, card, ignore=shutil.ignore_patterns("*.md", "*.tsv"))
    before = state(card)
    lib = home / "library"
    report = ingest([card], ledger, scene_ids=set(), library=lib)
    assert state(card) == before, "sources are never moved, renamed, rewritten or deleted"
    assert report.seen == 13 and len(report.ingested) == 11 and len(report.quarantined) == 2
    for x in report.ingested:
        src, copy = Path(x.path), Path(x.library_path)
        assert src.parent == card, "path stays the source the user gave"
        assert copy == lib / "samples" / src.name
        assert digest_file(copy).sha256 == x.sha256 == digest_file(src).sha256
        assert copy.stat().st_mtime_ns == src.stat().st_mtime_ns, "the copy keeps the source's mtime"
    for q in report.quarantined:  # broken recordings are kept too: the card may be formatted after offload
        assert Path(q.library_path).read_bytes() == Path(q.path).read_bytes()
    assets = {a.name: a for a in ledger.assets()}
    portrait = assets["android_portrait_4k60.mp4"]
    assert portrait.path == str(lib / "samples" / "android_portrait_4k60.mp4"), "renders read the library copy"
    assert [s.path for s in ledger.sightings(portrait.asset_id)] == [str(card / "android_portrait_4k60.mp4")]
    assert not partials(lib)
    assert mhl_verify(lib / "samples").returncode == 0


def test_single_file_goes_under_its_folder_name_and_in_place_copies_nothing(tmp_path: Path, ledger: Ledger,
                                                                           home: Path) -> None:
    clip = make_wav(tmp_path / "A002_card" / "sub" / "take 1.wav")
    other = make_wav(tmp_path / "elsewhere" / "take 2.wav", seed=2)
    lib = home / "library"
    report = ingest([clip], ledger, scene_ids=set(), library=lib)
    assert Path(report.ingested[0].library_path) == lib / "sub" / "take 1.wav"
    assert (lib / "sub" / "ascmhl" / "ascmhl_chain.xml").is_file()
    in_place = ingest([other], ledger, scene_ids=set(), library=None)
    (x,) = in_place.ingested
    assert x.library_path is None
    assert ledger.asset_by_sha256(x.sha256).path == str(other), "in place: the master is the file itself"
    assert not (lib / "elsewhere").exists()


def test_damaged_copy_is_retried_once_then_reported(tmp_path: Path, ledger: Ledger, home: Path) -> None:
    card = tmp_path / "B001"
    clip = make_wav(card / "interview.wav", seconds=1)
    lib = home / "library"
    damaged: list[int] = []

    def flip_one_byte(partial: Path, attempt: int, every_time: bool) -> None:
        if attempt == 1 or every_time:
            os.chmod(partial, 0o644)
            with open(partial, "r+b") as f:  # a bit flipped on the way to the disk
                f.seek(1000)
                b = f.read(1)
                f.seek(1000)
                f.write(bytes([b[0] ^ 0x01]))
            damaged.append(attempt)

    once = ingest([card], ledger, scene_ids=set(), library=lib,
                  after_write=lambda p, n: flip_one_byte(p, n, every_time=False))
    assert damaged == [1] and len(once.ingested) == 1, "the second attempt succeeded"
    assert digest_file(lib / "B001" / "interview.wav").sha256 == digest_file(clip).sha256

    damaged.clear()
    card2 = tmp_path / "B002"
    clip2 = make_wav(card2 / "interview.wav", seconds=1, seed=7)
    before = state(card2)
    always = ingest([card2], ledger, scene_ids=set(), library=lib,
                    after_write=lambda p, n: flip_one_byte(p, n, every_time=True))
    assert damaged == [1, 2]
    assert not always.ingested and not always.duplicates
    (q,) = always.quarantined
    assert q.path == str(clip2) and q.reason.startswith("copy failed verification")
    assert q.library_path is None
    assert not (lib / "B002" / "interview.wav").exists(), "no file under a final name"
    assert not partials(lib)
    assert state(card2) == before
    assert [r.reason for r in ledger.quarantined()][-1].startswith("copy failed verification")
    assert ledger.asset_by_sha256(digest_file(clip2).sha256) is None


def test_verified_copy_unit(tmp_path: Path) -> None:
    src = make_wav(tmp_path / "src.wav")
    os.utime(src, ns=(1_500_000_000_000_000_000, 1_500_000_000_123_456_789))
    out = verified_copy(src, tmp_path / "dst.wav")
    assert out.path == tmp_path / "dst.wav" and out.attempts == 1
    assert out.path.stat().st_mtime_ns == 1_500_000_000_123_456_789
    assert xxh128_file(out.path) == (out.digest.xxh128, out.digest.size)
    declined = verified_copy(src, tmp_path / "no.wav", keep=lambda d: False)
    assert declined.path is None and not (tmp_path / "no.wav").exists() and not partials(tmp_path)

    def truncate(p: Path, attempt: int) -> None:
        os.truncate(p, 10)

    with pytest.raises(CopyVerificationFailed):
        verified_copy(src, tmp_path / "bad.wav", after_write=truncate)
    assert not (tmp_path / "bad.wav").exists() and not partials(tmp_path)


def test_large_copy_is_exact_and_a_flipped_byte_is_caught(tmp_path: Path) -> None:
    """Files of several chunks (written with O_DIRECT where the file system takes it, the unaligned tail
    through the page cache, read back from the device): the copy is byte for byte the source, and one bit
    flipped in it after the write, anywhere, is caught by the read-back."""
    import hashlib

    rng = random.Random(5)
    for size in (8 * 2**20, 9 * 2**20 + 4097):  # whole chunks; chunks plus an unaligned tail
        src = tmp_path / f"src{size}.bin"
        src.write_bytes(data := rng.randbytes(size))
        out = verified_copy(src, tmp_path / f"copy{size}.bin")
        assert out.path is not None and out.path.read_bytes() == data
        assert out.digest.sha256 == hashlib.sha256(data).hexdigest() and out.digest.size == size
        for where in (5 * 2**20 + 17, size - 1):  # in a chunk written directly; the tail's last byte

            def flip(partial: Path, attempt: int, where: int = where) -> None:
                os.chmod(partial, 0o644)
                with open(partial, "r+b") as f:  # written through the page cache: not yet on the device
                    f.seek(where)
                    b = f.read(1)
                    f.seek(where)
                    f.write(bytes([b[0] ^ 0x01]))

            with pytest.raises(CopyVerificationFailed):
                verified_copy(src, tmp_path / f"bad{size}-{where}.bin", after_write=flip)
            assert not (tmp_path / f"bad{size}-{where}.bin").exists() and not partials(tmp_path)

def test_abandoned_partial_is_removed_but_a_live_one_is_not(tmp_path: Path) -> None:
    import fcntl

    dead = tmp_path / f".dead{PARTIAL_SUFFIX}"
    dead.write_bytes(b"x" * 100)
    live = tmp_path / f".live{PARTIAL_SUFFIX}"
    fd = os.open(live, os.O_WRONLY | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        # flock is per open file: a child process stands in for the other ingest.
        code = "import sys; from pathlib import Path; from assets_manifest.copying import remove_abandoned_partials;" \
               f" print(remove_abandoned_partials(Path({str(tmp_path)!r})))"
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert p.stdout.strip() == "1", p.stderr
    finally:
        os.close(fd)
    assert not dead.exists() and live.exists()
    assert remove_abandoned_partials(tmp_path) == 1 and not live.exists()


def test_unrecorded_verified_copy_is_kept_without_copying_again(tmp_path: Path, ledger: Ledger, home: Path) -> None:
    """What a run killed between naming the copy and writing the ledger leaves behind."""
    card = tmp_path / "C001"
    clip = make_wav(card / "ambience.wav", seconds=0.5)
    lib = home / "library"
    left = lib / "C001" / "ambience.wav"
    left.parent.mkdir(parents=True)
    shutil.copy2(clip, left)
    inode = left.stat().st_ino
    report = ingest([card], ledger, scene_ids=set(), library=lib)
    (x,) = report.ingested
    assert x.library_path == str(left) and left.stat().st_ino == inode, "kept, not copied again"
    assert mhl_verify(lib / "C001").returncode == 0

    # A file of the same size but other bytes at that name is not adopted: the new one gets its own name.
    card2 = tmp_path / "C001-b" / "C001"
    other = make_wav(card2 / "ambience.wav", seconds=0.5, seed=9)
    again = ingest([card2], ledger, scene_ids=set(), library=lib)
    (y,) = again.ingested
    assert y.library_path == str(lib / "C001" / "ambience (2).wav")
    assert digest_file(Path(y.library_path)).sha256 == digest_file(other).sha256
    assert left.stat().st_ino == inode


def test_duplicates_are_not_copied_and_a_lost_master_is_copied_again(tmp_path: Path, ledger: Ledger,
                                                                     home: Path) -> None:
    lib = home / "library"
    card = tmp_path / "D001"
    clip = make_wav(card / "a.wav")
    first = ingest([card], ledger, scene_ids=set(), library=lib)
    master = Path(first.ingested[0].library_path)
    backup = tmp_path / "D001-backup"
    backup.mkdir()
    shutil.copy2(clip, backup / "a copy.wav")
    dup = ingest([backup], ledger, scene_ids=set(), library=lib)
    assert [d.asset_id for d in dup.duplicates] == [first.ingested[0].asset_id]
    assert not (lib / "D001-backup").exists(), "the same bytes are one asset, held once"
    assert len(ledger.sightings(first.ingested[0].asset_id)) == 2

    master.unlink()  # the library lost it (a deleted file, a failed drive)
    repaired = ingest([card], ledger, scene_ids=set(), library=lib)
    (d,) = repaired.duplicates
    assert d.repaired is True and d.library_path == str(master)
    assert digest_file(master).sha256 == first.ingested[0].sha256
    result = verify_library(ledger, lib)
    assert result.mismatched == () and result.missing == ()
    assert mhl_verify(lib / "D001").returncode == 0


KILL_SCRIPT = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    from assets_manifest.ingest import ingest
    from assets_manifest.ledger import Ledger
    from assets_manifest.settings import LedgerSettings
    home, card, limit = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    ledger = Ledger.open(LedgerSettings(home=home))
    # The kill point: the first write past `limit` bytes of a file kills this process with SIGXFSZ, which, with
    # no handler (Python ignores it by default), ends it at once like kill -9: no except, finally or atexit runs.
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    ingest([card], ledger, scene_ids=set(), library=home / "library")
""")
KILL_AT = 3 * 1024 * 1024 + 12_345  # bytes into the big file's copy; not a multiple of any copy buffer


def test_killed_mid_copy_then_the_same_ingest_finishes(tmp_path: Path, home: Path) -> None:
    card = tmp_path / "E001"
    small = make_wav(card / "a_small.wav")
    big = make_wav(card / "b_big.wav", seconds=40, seed=1)  # 7.7 MB, copied after a_small
    before = state(card)
    lib = home / "library"
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(home), str(card), str(KILL_AT)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == -signal.SIGXFSZ, proc.stderr[-2000:]
    assert [p.stat().st_size for p in partials(lib)] == [KILL_AT], "killed mid-copy of the big file, at the byte"

    ledger = Ledger.open(LedgerSettings(home=home))
    try:
        assert not (lib / "E001" / "b_big.wav").exists(), "no file under its final name"
        # New assets reach the ledger in batches, and the run was killed before its first: the ledger calls
        # nothing done (the run reported nothing), while a_small's verified copy already has its name.
        assert ledger.assets() == [], "the ledger calls nothing incomplete done"
        assert partials(lib), "the partial copy stays until the next run"
        small_copy = lib / "E001" / "a_small.wav"
        small_inode = small_copy.stat().st_ino

        report = ingest([card], ledger, scene_ids=set(), library=lib)
        # a_small's copy is recognised by its hash (read back) and kept; b_big is copied.
        assert [Path(x.path).name for x in report.ingested] == ["a_small.wav", "b_big.wav"]
        assert report.duplicates == ()
        assert small_copy.stat().st_ino == small_inode, "what was verified is not copied again"
        assert not partials(lib)
        assert xxh128_file(lib / "E001" / "b_big.wav") == xxh128_file(big)
        assert state(card) == before
        result = verify_library(ledger, lib)
        assert result.checked == 2 and result.mismatched == () and result.missing == ()
        check = mhl_verify(lib / "E001")
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        ledger.close()
    assert small.exists()

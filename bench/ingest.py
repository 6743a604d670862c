"""Benchmark of the verified offload: docfilm ingest against `cp` + `sha256sum` of the same files, same run.

    .venv/bin/python bench/ingest.py [--gb 2] [--files 4] [--small 1000] [--dir /var/tmp]

Makes a set of large WAV files of noise (valid media, incompressible), then times, from a cold page cache
when this process may drop it (root: /proc/sys/vm/drop_caches) and from a warm one otherwise:

- baseline: `cp FILE LIB/` then `sha256sum FILE`, file by file (what a careful person does by hand); and, as
  a stricter comparison, `cp` + `openssl dgst -sha256` (coreutils' sha256sum does not use the CPU's SHA
  instructions, openssl and Python's hashlib do);
- docfilm: `ingest()` into a fresh ledger and library: one read feeding SHA-256, XXH128 and the copy, fsync,
  read-back of the copy from the device, probe, ledger rows, an ASC MHL generation.

It prints the throughput ratio docfilm / baseline (target ≥ 1.0 against cp + openssl), then the per-file
overhead of ingesting `--small` tiny WAV files (target ≤ 5 ms), each with where docfilm's time goes (reading,
hashing and writing in one pass, the fsync, the read-back from the device, folder flushes, probe, ledger, MHL).
Everything it makes is deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

from assets_manifest.ingest import BATCH_ROWS, BATCH_SECONDS, ingest
from assets_manifest.ledger import Ledger
from assets_manifest.settings import LedgerSettings

MB = 1024 * 1024


def drop_caches() -> bool:
    """Flush dirty pages and drop the page cache; False when not allowed (not root, or a container)."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        return False
    return True


def make_big_wavs(folder: Path, total_bytes: int, count: int) -> list[Path]:
    """`count` WAVs of noise adding up to `total_bytes`; every 64 MB block differs (no two files alike)."""
    folder.mkdir(parents=True)
    block = bytearray(random.Random(1).randbytes(64 * MB))
    per_file = total_bytes // count // 6 * 6  # whole stereo 24-bit frames
    paths = []
    for i in range(count):
        path = folder / f"A001C{i + 1:03d}_noise.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(3)
            w.setframerate(48000)
            written = 0
            while written < per_file:
                block[:16] = f"{i:08d}{written:08d}"[:16].encode().ljust(16, b"\0")
                n = min(len(block) // 6 * 6, per_file - written)
                w.writeframesraw(memoryview(block)[:n])
                written += n
        paths.append(path)
    return paths


def make_small_wavs(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True)
    rng = random.Random(2)
    for i in range(count):
        with wave.open(str(folder / f"S{i:04d}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(48000)
            w.writeframes(rng.randbytes(4000))
    return sorted(folder.iterdir())


def time_baseline(files: list[Path], dest: Path) -> dict[str, float]:
    dest.mkdir(parents=True)
    cp = sha = cp_cpu = 0.0
    cpu = cpu_seconds()
    for f in files:
        t, c = time.perf_counter(), cpu_seconds()
        subprocess.run(["cp", "--", str(f), str(dest) + "/"], check=True)
        cp += time.perf_counter() - t
        cp_cpu += cpu_seconds() - c
        t = time.perf_counter()
        subprocess.run(["sha256sum", "--", str(f)], check=True, stdout=subprocess.DEVNULL)
        sha += time.perf_counter() - t
    return {"cp_s": cp, "sha256sum_s": sha, "total_s": cp + sha, "cpu_s": cpu_seconds() - cpu, "cp_cpu_s": cp_cpu}


def time_openssl(files: list[Path]) -> tuple[float, float] | None:
    """Wall and CPU seconds of SHA-256 by `openssl dgst` (SHA CPU extensions; Python's hashlib calls the same
    OpenSSL code, at the same CPU time a byte): a stricter baseline than sha256sum."""
    if shutil.which("openssl") is None:
        return None
    t, cpu = time.perf_counter(), cpu_seconds()
    for f in files:
        subprocess.run(["openssl", "dgst", "-sha256", "--", str(f)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t, cpu_seconds() - cpu


class Split:
    """Time spent in the ingest's parts, by wrapping them for one run (a few microseconds a call)."""

    PARTS = (
        ("read+hash+write", "assets_manifest.copying", "digest_stream"),
        ("fsync file", "assets_manifest.copying.os", "fsync"),
        ("read-back", "assets_manifest.copying", "xxh128_file"),
        ("fsync folders", "assets_manifest.card", "fsync_dir"),
        ("probe", "assets_manifest.ingest", "probe"),
        ("MHL", "assets_manifest.card", "mhl.write_generation"),
    )
    LEDGER = ("asset_by_sighting", "asset_by_path", "asset_by_sha256", "add_asset", "add_assets", "master_of",
              "sightings_under", "assets_under")

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._undo: list[tuple[object, str, object]] = []

    def _wrap(self, label: str, owner: object, name: str) -> None:
        original = getattr(owner, name)

        def timed(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def install(self, ledger: Ledger) -> None:
        import importlib

        for label, module, name in self.PARTS:
            owner: object = importlib.import_module(module) if not module.endswith(".os") else os
            if "." in name:
                head, name = name.split(".")
                owner = getattr(owner, head)
            self._wrap(label, owner, name)
        for name in self.LEDGER:
            self._wrap("ledger", ledger, name)

    def remove(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()

    def lines(self, total: float, files: int) -> list[str]:
        parts = {**self.seconds, "other (walk, names, stat, partial files, links)": total - sum(self.seconds.values())}
        return [f"    {label:48s} {s:7.2f} s {100 * s / total:5.1f} %  {1000 * s / files:7.2f} ms a file"
                for label, s in parts.items()]


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (user + system)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_ingest(card: Path, home: Path) -> tuple[float, float, dict[str, int], Split]:
    """Wall and CPU seconds of one ingest of `card` into a fresh ledger, its report's counts and time split."""
    ledger = Ledger.open(LedgerSettings(home=home))
    split = Split()
    split.install(ledger)
    try:
        t, cpu = time.perf_counter(), cpu_seconds()
        report = ingest([card], ledger, scene_ids=set(), library=home / "library")
        elapsed, used = time.perf_counter() - t, cpu_seconds() - cpu
    finally:
        split.remove()
        ledger.close()
    return elapsed, used, {"ingested": len(report.ingested), "duplicates": len(report.duplicates),
                           "quarantined": len(report.quarantined), "failed": len(report.failed),
                           "mhl_generations": len(report.mhl)}, split


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=2.0, help="size of the large set in GiB (default 2)")
    ap.add_argument("--files", type=int, default=4, help="files in the large set (default 4)")
    ap.add_argument("--small", type=int, default=1000, help="tiny files for the per-file overhead (default 1000)")
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the files made")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="docfilm-ingest-bench-", dir=args.dir))
    try:
        total = int(args.gb * 1024 * MB)
        need = 3 * total + 64 * MB
        if shutil.disk_usage(work).free < need:
            print(f"not enough space in {work}: need {need / MB:.0f} MB", file=sys.stderr)
            return 2
        print(f"making {args.files} files, {total / MB:.0f} MB in all, in {work} …", file=sys.stderr)
        big = make_big_wavs(work / "A001", total, args.files)
        size = sum(p.stat().st_size for p in big)

        cold = drop_caches()
        base = time_baseline(big, work / "cp-copy")
        drop_caches()
        timed_openssl = time_openssl(big)
        openssl, openssl_cpu = timed_openssl if timed_openssl is not None else (None, None)
        drop_caches()
        took, took_cpu, counts, big_split = time_ingest(work / "A001", work / "home-big")
        assert counts["ingested"] == args.files, counts

        small = make_small_wavs(work / "S001", args.small)
        drop_caches()
        small_took, small_cpu, small_counts, small_split = time_ingest(work / "S001", work / "home-small")
        assert small_counts["ingested"] == len(small), small_counts

        result = {
            "page_cache": "dropped before each run (cold)" if cold else "not dropped (warm: not allowed here)",
            "large_set_mb": round(size / MB),
            "files": args.files,
            "baseline_cp_s": round(base["cp_s"], 2),
            "baseline_sha256sum_s": round(base["sha256sum_s"], 2),
            "baseline_mb_s": round(size / MB / base["total_s"], 1),
            "docfilm_s": round(took, 2),
            "docfilm_mb_s": round(size / MB / took, 1),
            "ratio": round(base["total_s"] / took, 2),
            "openssl_sha256_s": round(openssl, 2) if openssl is not None else None,
            "baseline_cp_openssl_cpu_s": round(base["cp_cpu_s"] + openssl_cpu, 2) if openssl_cpu is not None else None,
            "ratio_vs_cp_openssl": round((base["cp_s"] + openssl) / took, 2) if openssl is not None else None,
            "small_files": len(small),
            "small_total_s": round(small_took, 2),
            "per_file_ms": round(1000 * small_took / len(small), 2),
            "docfilm_cpu_s": round(took_cpu, 2),
            "per_file_cpu_ms": round(1000 * small_cpu / len(small), 2),
            "load_average": round(os.getloadavg()[0], 2),
        }
        print(f"page cache: {result['page_cache']}")
        print(f"large set: {result['files']} files, {result['large_set_mb']} MB")
        print(f"  cp + sha256sum: {base['total_s']:.2f} s (cp {base['cp_s']:.2f} s, "
              f"sha256sum {base['sha256sum_s']:.2f} s) = {result['baseline_mb_s']} MB/s; CPU {base['cpu_s']:.2f} s")
        print(f"  docfilm ingest: {took:.2f} s = {result['docfilm_mb_s']} MB/s (copy, fsync, read-back, probe, MHL); "
              f"CPU {took_cpu:.2f} s")
        print(f"  ratio docfilm / (cp + sha256sum): {result['ratio']}")
        if openssl is not None:
            print(f"  stricter: cp + openssl sha256 ({openssl:.2f} s, cold): ratio {result['ratio_vs_cp_openssl']} "
                  "(target ≥ 1.0; cp's writes are flushed untimed, by the cache drop that follows it); "
                  f"CPU cp {base['cp_cpu_s']:.2f} s + openssl {openssl_cpu:.2f} s")
        print("  where docfilm's time goes (the device is shared: read, write and read-back each cost a pass; the")
        print("  source is read in 1 MB slices that XXH128 reads while cached, SHA-256 on a thread of its own, the")
        print("  copy written with O_DIRECT on a third as it goes, so the fsync finds little left; the read-back is")
        print("  O_DIRECT, one chunk ahead):")
        print("\n".join(big_split.lines(took, args.files)))
        print(f"small files: {len(small)} in {small_took:.2f} s = {result['per_file_ms']} ms a file  (target ≤ 5 ms); "
              f"CPU {result['per_file_cpu_ms']} ms a file")
        print("  per file: one read feeding SHA-256, XXH128 and the copy, an fsync of the copy and its read-back from")
        print("  the device (the verification needs the copy on the device first: one fsync a file), a probe. Batched:")
        print(f"  ledger rows (one transaction per {BATCH_ROWS} files or {BATCH_SECONDS:g} s, written after")
        print("  the folders holding their copies are flushed, before anything is reported), folder fsyncs (per")
        print("  folder and batch),")
        print("  the ledger's earlier sightings of the card (one query a card), the ASC MHL (one generation a card).")
        print("  where the time goes:")
        print("\n".join(small_split.lines(small_took, len(small))))
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work on this machine "
              "slows both sides; compare ratios from the same run)")
        print(json.dumps(result))
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

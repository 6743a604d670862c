"""Benchmark of verified uploads: docfilm's multipart upload against boto3's own `upload_file`, same run.

    .venv/bin/python bench/upload.py [--mib 512] [--threads 8] [--part-mib 8] [--rounds 2]

Starts the embedded SeaweedFS on 127.0.0.1 (as docfilm does) and uploads one file of noise to it, alternating:

- baseline: boto3's `upload_file` with its TransferConfig at the same threads and part size, checksums off
  (`request_checksum_calculation="when_required"`): the plain tool, which proves nothing about the bytes;
- docfilm as it uploads (the goal's row): `upload_verified` given the ledger's SHA-256 and part hashes, as
  docfilm uploads masters (recorded at ingest, in the read that hashes and copies them) and renditions (taken in
  the read that hashes them): HEAD (is it there already?), then each part goes with its recorded SHA-256, which
  the server checks, and the client hashes nothing; a line appended to the resume record per accepted part, then
  HEAD to check the composite checksum and metadata. The part hashes are computed before the timer, as ingest
  does; what that costs is printed per 512 MiB (at ingest the whole SHA-256 is taken anyway);
- docfilm, hash known (before part hashes were recorded): `upload_verified` given the ledger's SHA-256 only: one
  reader thread hashes each part (the server checks it) and the whole file from the same bytes on the way
  (compared before the upload is completed);
- docfilm, cold: `upload_verified` with no hash: the whole file's SHA-256 first (one read; needed to skip an
  object already holding it and for its metadata), then as the previous one.

Each is timed `--rounds` times under a fresh key; the best of each counts. It prints the throughput ratios
docfilm / boto3 (goal ≥ 0.9), each round's ratio, the requests each kind made, the CPU time of both sides
(client + SeaweedFS; on a loaded machine their ratio moves less than the wall's) and the hashing read measured
on its own.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from core.part_hashes import hash_file_parts
from delivery.client import ensure_bucket, s3_client
from delivery.seaweed import EmbeddedS3
from delivery.settings import S3Settings
from delivery.upload import upload_verified

MIB = 1024 * 1024


def make_noise(path: Path, mib: int) -> None:
    """`mib` MiB of incompressible bytes (a 16 MiB random block, each copy with its own first bytes)."""
    block = bytearray(random.Random(7).randbytes(16 * MIB))
    with path.open("wb") as out:
        for i in range(0, mib, 16):
            block[:8] = i.to_bytes(8, "big")
            out.write(block[: min(16, mib - i) * MIB])


def own_cpu() -> float:
    """CPU seconds (user + system) of this process: boto3's or docfilm's side of the upload."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int | None) -> float:
    """CPU seconds of another process (the embedded SeaweedFS), from /proc; 0 where there is none."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Timed:
    """Wall time, this process's CPU and the server's CPU of each upload of one kind."""

    def __init__(self, server_pid: int | None, requests: Counter[str]) -> None:
        self.server_pid = server_pid
        self.wall: list[float] = []
        self.cpu: list[tuple[float, float]] = []
        self.counted = requests  # S3 requests by operation, counted by the client's own events
        self.requests: Counter[str] = Counter()

    def run(self, upload: Callable[..., object], *args: object, **kwargs: object) -> float:
        self.counted.clear()
        cpu, server = own_cpu(), process_cpu(self.server_pid)
        started = time.perf_counter()
        upload(*args, **kwargs)
        self.wall.append(time.perf_counter() - started)
        self.cpu.append((own_cpu() - cpu, process_cpu(self.server_pid) - server))
        self.requests = Counter(self.counted)
        return self.wall[-1]

    def total_cpu(self) -> float:
        """Client + SeaweedFS CPU seconds, the least of the rounds."""
        return min(client + server for client, server in self.cpu)

    def request_counts(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in sorted(self.requests.items()))

    def best(self) -> tuple[float, float, float]:
        """The fastest upload's wall time, its client CPU and its server CPU."""
        i = min(range(len(self.wall)), key=self.wall.__getitem__)
        return self.wall[i], *self.cpu[i]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=512, help="size of the file in MiB (default 512)")
    ap.add_argument("--threads", type=int, default=8, help="parts in flight, both sides (default 8)")
    ap.add_argument("--part-mib", type=int, default=8, help="part size in MiB, both sides (default 8)")
    ap.add_argument("--rounds", type=int, default=2, help="timed uploads of each kind (default 2)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="docfilm-bench-upload-") as tmp:
        work = Path(tmp)
        path = work / "noise.bin"
        make_noise(path, args.mib)
        cpu, started = own_cpu(), time.perf_counter()
        with path.open("rb") as handle:  # as docfilm hashes a file it reads for nothing else (file_sha256)
            sha_hex = hashlib.file_digest(handle, "sha256").hexdigest()
        hash_s, hash_cpu = time.perf_counter() - started, own_cpu() - cpu
        cpu, started = own_cpu(), time.perf_counter()
        parts_sha, _, parts = hash_file_parts(path, args.part_mib * MIB)  # as ingest records them, before the timer
        parts_s, parts_cpu = time.perf_counter() - started, own_cpu() - cpu
        assert parts_sha == sha_hex

        with EmbeddedS3(work / "home") as server:
            assert server.endpoint_url is not None
            verified = s3_client(server.endpoint_url, server.access_key, server.secret_key)
            ensure_bucket(verified, "bench", "us-east-1")
            plain = boto3.client(
                "s3", endpoint_url=server.endpoint_url, aws_access_key_id=server.access_key,
                aws_secret_access_key=server.secret_key, region_name="us-east-1",
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                              request_checksum_calculation="when_required"),
            )
            transfer = TransferConfig(multipart_threshold=args.part_mib * MIB, multipart_chunksize=args.part_mib * MIB,
                                      max_concurrency=args.threads, use_threads=True)
            settings = S3Settings(home=work / "home", multipart_threshold_mib=args.part_mib,
                                  part_size_mib=args.part_mib, upload_threads=args.threads)
            plain_requests: Counter[str] = Counter()
            verified_requests: Counter[str] = Counter()
            for client, counter in ((plain, plain_requests), (verified, verified_requests)):
                client.meta.events.register(
                    "before-call.s3", lambda model, _counter=counter, **_: _counter.update([model.name]))
            bare = Timed(server.pid, plain_requests)
            ledger, known, cold = (Timed(server.pid, verified_requests) for _ in range(3))
            for round_ in range(args.rounds):
                b = bare.run(plain.upload_file, str(path), "bench", f"boto3/{round_}.bin", Config=transfer)
                d = ledger.run(upload_verified, verified, "bench", f"docfilm-ledger/{round_}.bin", path, settings,
                               sha256_hex=sha_hex, part_hashes=parts)
                k = known.run(upload_verified, verified, "bench", f"docfilm-known/{round_}.bin", path, settings,
                              sha256_hex=sha_hex)
                c = cold.run(upload_verified, verified, "bench", f"docfilm-cold/{round_}.bin", path, settings)
                print(f"round {round_ + 1}: boto3 upload_file {b:.2f} s, docfilm as it uploads {d:.2f} s "
                      f"(ratio {b / d:.2f}), hash known {k:.2f} s (ratio {b / k:.2f}), cold {c:.2f} s; "
                      f"load average {os.getloadavg()[0]:.1f}", file=sys.stderr)

    mb = args.mib * MIB / 1e6
    print(f"file: {args.mib} MiB, parts of {args.part_mib} MiB, {args.threads} in flight, best of {args.rounds}")
    print("                                                      wall (throughput)   CPU: client + SeaweedFS")
    for label, timed in (("boto3 upload_file (no checksums):", bare),
                         ("docfilm as it uploads (ledger's part hashes):", ledger),
                         ("docfilm, whole hash known, client hashes parts:", known),
                         ("docfilm, cold (hashes first):", cold)):
        wall, client_cpu, server_cpu = timed.best()
        print(f"{label:<54}{wall:.2f} s ({mb / wall:.0f} MB/s)   {client_cpu:.2f} + {server_cpu:.2f} s")
    best_bare = bare.best()[0]
    print(f"ratio docfilm / boto3 throughput, as docfilm uploads (ledger's part hashes): "
          f"{best_bare / ledger.best()[0]:.2f} (goal >= 0.9)")
    print("ratio docfilm / boto3 throughput, whole hash known, client hashes parts:    "
          f"{best_bare / known.best()[0]:.2f}")
    print("ratio docfilm / boto3 throughput, cold (hashes first):                       "
          f"{best_bare / cold.best()[0]:.2f}")
    print(f"ratio of CPU (client + SeaweedFS, least of the rounds), boto3 / docfilm as it uploads: "
          f"{bare.total_cpu():.2f} / {ledger.total_cpu():.2f} s = {bare.total_cpu() / ledger.total_cpu():.2f} "
          f"(whole hash known: {bare.total_cpu() / known.total_cpu():.2f})")
    print(f"requests per upload: boto3 {bare.request_counts()}; docfilm {ledger.request_counts()}")
    per = 512 / args.mib
    print(f"moved to ingest (before the timer, where the file is read anyway): whole + part SHA-256 in one read "
          f"{parts_cpu * per:.2f} s CPU per 512 MiB ({parts_s * per:.2f} s wall, from page cache); the whole-file "
          f"SHA-256 alone, which ingest takes anyway, {hash_cpu * per:.2f} s CPU ({hash_s * per:.2f} s wall): the "
          f"parts add ~{max(0.0, parts_cpu - hash_cpu) * per:.2f} s CPU per 512 MiB at ingest")
    print("where the time goes, per byte: boto3 reads each part twice (SHA-256 for the payload signature, then the")
    print("send). docfilm as it uploads reads it once and hashes nothing (each part's SHA-256 comes from the ledger,")
    print("taken at ingest in the read that hashed the file; the payload is signed through the signed")
    print("x-amz-checksum-sha256 header). With the whole hash only, the client hashes each part and the whole file")
    print("on the way: two SHA-256 passes. SeaweedFS computes each part's MD5 ETag for both, and for docfilm also")
    print("checks each part's SHA-256: one SHA-256 pass more on the server (it does not check boto3's payload hash")
    print("at all: a body swapped after signing is stored).")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the client, SeaweedFS and any other "
          "work share them; compare ratios from the same run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of verified uploads: docfilm's multipart upload against boto3's own `upload_file`, same run.

    .venv/bin/python bench/upload.py [--mib 512] [--threads 8] [--part-mib 8] [--rounds 2]

Starts the embedded SeaweedFS on 127.0.0.1 (as docfilm does) and uploads one file of noise to it, alternating:

- baseline: boto3's `upload_file` with its TransferConfig at the same threads and part size, checksums off
  (`request_checksum_calculation="when_required"`): the plain tool, which proves nothing about the bytes;
- docfilm, hash known: `upload_verified` given the ledger's SHA-256, as docfilm uploads masters, proxies and
  packet media: HEAD (is it there already?), then the parts go at once, one reader thread hashing each part
  (the server checks it) and the whole file from the same bytes on the way (compared before the upload is
  completed), a line appended to the resume record per accepted part, then HEAD to check the composite
  checksum and metadata;
- docfilm, cold: `upload_verified` with no hash: the whole file's SHA-256 first (one read; needed to skip an
  object already holding it and for its metadata), then as above.

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
        started = time.perf_counter()
        sha_hex = hashlib.sha256(path.read_bytes()).hexdigest()
        hash_s = time.perf_counter() - started

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
            known, cold = (Timed(server.pid, verified_requests) for _ in range(2))
            for round_ in range(args.rounds):
                b = bare.run(plain.upload_file, str(path), "bench", f"boto3/{round_}.bin", Config=transfer)
                k = known.run(upload_verified, verified, "bench", f"docfilm-known/{round_}.bin", path, settings,
                              sha256_hex=sha_hex)
                c = cold.run(upload_verified, verified, "bench", f"docfilm-cold/{round_}.bin", path, settings)
                print(f"round {round_ + 1}: boto3 upload_file {b:.2f} s, docfilm hash known {k:.2f} s "
                      f"(ratio {b / k:.2f}), cold {c:.2f} s; load average {os.getloadavg()[0]:.1f}", file=sys.stderr)

    (best_bare, bare_cpu, bare_server), (best_known, known_cpu, known_server), (best_cold, cold_cpu, cold_server) = (
        bare.best(), known.best(), cold.best())
    mb = args.mib * MIB / 1e6
    print(f"file: {args.mib} MiB, parts of {args.part_mib} MiB, {args.threads} in flight, best of {args.rounds}")
    print("                                         wall (throughput)   CPU: client + SeaweedFS")
    print(f"boto3 upload_file (no checksums):        {best_bare:.2f} s ({mb / best_bare:.0f} MB/s)   "
          f"{bare_cpu:.2f} + {bare_server:.2f} s")
    print(f"docfilm upload_verified, hash known:     {best_known:.2f} s ({mb / best_known:.0f} MB/s)   "
          f"{known_cpu:.2f} + {known_server:.2f} s")
    print(f"docfilm upload_verified, cold:           {best_cold:.2f} s ({mb / best_cold:.0f} MB/s)   "
          f"{cold_cpu:.2f} + {cold_server:.2f} s")
    print(f"ratio docfilm / boto3 throughput, hash known (as docfilm uploads): {best_bare / best_known:.2f} "
          "(goal >= 0.9)")
    print(f"ratio docfilm / boto3 throughput, cold (hashes first):           {best_bare / best_cold:.2f}")
    print(f"ratio of CPU (client + SeaweedFS, least of the rounds), boto3 / docfilm hash known: "
          f"{bare.total_cpu():.2f} / {known.total_cpu():.2f} s = {bare.total_cpu() / known.total_cpu():.2f}")
    print(f"requests per upload: boto3 {bare.request_counts()}; docfilm {known.request_counts()}")
    print(f"the whole-file SHA-256 read alone: {hash_s:.2f} s (from page cache)")
    print("where the extra time goes, per byte: boto3 reads each part twice (SHA-256 for the payload signature,")
    print("then the send); docfilm reads it once and hashes it twice (the part's SHA-256, which the server checks,")
    print("and the whole file's, compared with the ledger's): one SHA-256 pass more on the client. Its payload is")
    print("signed through the signed x-amz-checksum-sha256 header, not hashed a third time. SeaweedFS computes each")
    print("part's MD5 ETag for both, and for docfilm also checks each part's SHA-256: one SHA-256 pass more on the")
    print("server (it does not check boto3's payload hash at all: a body swapped after signing is stored).")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the client, SeaweedFS and any other "
          "work share them; compare ratios from the same run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of the render farm: its overhead against a local render, lease claims and the plan query on PostgreSQL.

    .venv/bin/python bench/render_farm.py [--quick] [--clips 20] [--seconds 10] [--skip-overhead]

Prints, from this one run:
(a) farm overhead: `docfilm render --farm` on `docfilm farm local --workers 2` against a local
    `docfilm render --all --jobs 2` of the same clips (20 of 10 s; --quick: 6), the same ffmpeg on the same 2 cores.
    Goal ≤ 1.15 in wall time. Also the seconds per clip spent coordinating: (farm − local) / clips.
(b) lease claims on PostgreSQL: 2,000 (asset, profile) pairs queued by a planner, 16 threads each claiming the
    next one (`Leases.claim_next`, SKIP LOCKED) until none is left; every pair must be claimed exactly once.
    Goal ≥ 500 claims/s.
(c) the farm's plan query (Leases.plan: assets, proxies and leases in one query) over 100,000 assets, half of
    them up to date (rendered on the farm: a finished lease row each) and 1,000 more held by another planner.
    Goal ≤ 1 s.
Each line also gives the CPU time of this process and its children, and the load average: the machine may be
shared, and a figure taken under load says so.
The cluster is the farm's own (farm.postgres, Debian's binaries), in a temp folder, removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# This file's own folder comes first on sys.path and its name would hide the `farm` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import imageio_ffmpeg  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from assets_manifest.leases import Leases  # noqa: E402
from assets_manifest.ledger import Ledger  # noqa: E402
from assets_manifest.settings import LedgerSettings  # noqa: E402
from assets_manifest.store import Asset, Proxy, RenderLease  # noqa: E402
from farm.postgres import PostgresCluster, cluster_in  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOCFILM = Path(sys.executable).parent / "docfilm"
PROFILE = "b" * 16


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its waited-for children so far."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def machine() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def asset_rows(n: int, start: int = 0) -> list[dict[str, object]]:
    rows = []
    for i in range(start, start + n):
        sha = hashlib.sha256(f"bench clip {i}".encode()).hexdigest()
        rows.append({"asset_id": sha[:16], "sha256": sha, "xxh128": sha[:32], "size": 1, "name": f"clip{i:06d}.mov",
                     "path": f"/library/clip{i:06d}.mov", "path_bytes": b"", "kind": "video", "container": "mov",
                     "scene_id": f"S{i % 20:02d}", "duration_frames": 250, "probe": {}, "rotation": 0,
                     "field_order": "progressive", "vfr": False, "audio_tracks": 1})
    return rows


def fresh_ledger(cluster: PostgresCluster, name: str) -> Ledger:
    cluster.ensure_database(name)
    settings = LedgerSettings(database_url=cluster.url(name))
    Ledger.upgrade(settings)
    return Ledger.open(settings)


def bench_claims(cluster: PostgresCluster, pairs: int = 2000, claimers: int = 16) -> dict[str, float]:
    ledger = fresh_ledger(cluster, "claims")
    rows = asset_rows(pairs)
    with ledger.session(write=True) as s:
        s.execute(insert(Asset), rows)
    ids = [str(r["asset_id"]) for r in rows]
    leases = Leases(ledger)
    claimed: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(claimers + 1)

    leases.reserve(ids, PROFILE, planner="bench", ttl_s=3600)

    def claimer(n: int) -> None:
        mine = []
        start.wait()
        while (lease := leases.claim_next(PROFILE, f"w{n}", ttl_s=3600, planner="bench")) is not None:
            mine.append(lease.asset_id)
        with lock:
            claimed.extend(mine)

    bare = bare_transactions(cluster, "claims", pairs, claimers)
    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(claimers)]
    ledger.engine.pool.dispose()
    for t in threads:
        t.start()
    start.wait()
    began, cpu = time.perf_counter(), cpu_seconds()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    cpu = cpu_seconds() - cpu
    ledger.close()
    duplicates = len(claimed) - len(set(claimed))
    return {"pairs": pairs, "claimed": len(claimed), "duplicates": duplicates, "seconds": seconds,
            "claims_per_s": len(claimed) / seconds, "bare_per_s": bare, "cpu_ms_per_claim": 1000 * cpu / len(claimed)}


def bare_transactions(cluster: PostgresCluster, database: str, total: int, threads: int) -> float:
    """The bare tool on the same machine at the same moment: psycopg transactions of one `SELECT 1` from as many
    threads, per second (the ceiling a claim, one statement in a transaction, is held against)."""
    import psycopg

    start = threading.Barrier(threads + 1)

    def run(n: int) -> None:
        with psycopg.connect(host="127.0.0.1", port=cluster.port, user="docfilm", password=cluster.password,
                             dbname=database) as conn:
            start.wait()
            for _ in range(total // threads):
                with conn.transaction():
                    conn.execute("SELECT 1").fetchone()

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in workers:
        t.join()
    return (total // threads * threads) / (time.perf_counter() - began)


def bench_plan(cluster: PostgresCluster, assets: int = 100_000) -> dict[str, float]:
    ledger = fresh_ledger(cluster, "plan")
    now = datetime.now(UTC)
    later = now + timedelta(hours=1)
    began = time.perf_counter()
    for i in range(0, assets, 10_000):
        rows = asset_rows(10_000, i)
        with ledger.session(write=True) as s:
            s.execute(insert(Asset), rows)
            s.execute(insert(Proxy), [{"asset_id": r["asset_id"], "profile_hash": PROFILE, "state": "done",
                                       "qc": {}} for r in rows[::2]])
            # The up-to-date half was rendered on the farm: each pair has its finished lease.
            s.execute(insert(RenderLease), [{"asset_id": r["asset_id"], "profile_hash": PROFILE, "state": "done",
                                             "holder": "w1", "token": "t", "expires_at": now, "attempts": 1,
                                             "worker": "w1", "updated_at": now} for r in rows[::2]])
    with ledger.session(write=True) as s:  # another planner, at work right now, holds 1,000 of the stale ones
        s.execute(insert(RenderLease), [{"asset_id": r["asset_id"], "profile_hash": PROFILE, "state": "queued",
                                         "holder": "elsewhere", "token": "t", "expires_at": later, "attempts": 0,
                                         "updated_at": now} for r in asset_rows(2000)[1::2]])
    filled = time.perf_counter() - began
    with ledger.engine.begin() as conn:  # committed: statistics analysed in a rolled-back transaction are lost
        conn.execute(text("ANALYZE"))
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=cluster.port, user="docfilm", password=cluster.password,
                         dbname="plan") as conn:
        t0 = time.perf_counter()
        conn.execute("SELECT asset_id, name, scene_id, duration_frames FROM assets WHERE asset_id NOT IN "
                     "(SELECT asset_id FROM proxies WHERE state = 'done')").fetchall()
        bare = time.perf_counter() - t0
    leases = Leases(ledger)
    times, cpus = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), cpu_seconds()
        planned = leases.plan(PROFILE, planner="bench")
        times.append(time.perf_counter() - t0)
        cpus.append(cpu_seconds() - c0)
    ledger.close()
    return {"assets": assets, "stale": len(planned), "seconds": min(times), "fill_seconds": filled, "bare_s": bare,
            "cpu_s": min(cpus)}


def make_clips(folder: Path, clips: int, seconds: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(clips):
        subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
             "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={seconds}",
             "-f", "lavfi", "-i", f"sine=frequency={400 + 20 * n}:sample_rate=48000:duration={seconds}",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
             str(folder / f"clip{n:02d}.mp4")],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DOCFILM_", "AWS_"))}
    return env | {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"} | extra


def timed(args: list[str], env: dict[str, str]) -> tuple[float, dict[str, object]]:
    began = time.perf_counter()
    done = subprocess.run([str(DOCFILM), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"docfilm {' '.join(args)} failed ({done.returncode}): {done.stderr[-3000:]}")
    return seconds, json.loads(done.stdout)


def bench_overhead(top: Path, clips: int, seconds: int) -> dict[str, float]:
    card = top / "card"
    make_clips(card, clips, seconds)
    # Local: the embedded defaults, rendering two clips at a time.
    local_env = clean_env(DOCFILM_HOME=str(top / "local"))
    subprocess.run([str(DOCFILM), "ingest", str(card), "--json"], env=local_env, cwd=ROOT, check=True,
                   capture_output=True, timeout=1200)
    cpu = cpu_seconds()
    local_s, local = timed(["render", "--all", "--jobs", "2", "--json"], local_env)
    local_cpu = cpu_seconds() - cpu
    # The farm: two workers on this machine; the clips' masters in its S3.
    farm_home = top / "farm-home"
    env_file = top / "farm.env"
    farm = subprocess.Popen([str(DOCFILM), "farm", "local", "--workers", "2", "--env-file", str(env_file)],
                            env=clean_env(DOCFILM_HOME=str(farm_home)), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert farm.stdout is not None
        if not farm.stdout.readline().startswith("env file:"):
            sys.exit("farm local did not start")
        exported = {}
        for line in env_file.read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            exported[name] = value.strip("'")
        farm_env = clean_env(DOCFILM_HOME=str(top / "planner"), **exported)
        subprocess.run([str(DOCFILM), "ingest", str(card), "--json"], env=farm_env, cwd=ROOT, check=True,
                       capture_output=True, timeout=1200)
        cpu = cpu_seconds()  # the planner's; the workers' come in when farm local has stopped (its children)
        farm_s, result = timed(["render", "--farm", "--all", "--json"], farm_env)
        planner_cpu = cpu_seconds() - cpu
    finally:
        farm.send_signal(signal.SIGTERM)
        farm.wait(timeout=120)
    farm_cpu = cpu_seconds() - cpu
    rendered_local = len(local["rendered"])  # type: ignore[arg-type]
    rendered_farm = len(result["rendered"])  # type: ignore[arg-type]
    if rendered_local != clips or rendered_farm != clips:
        sys.exit(f"rendered {rendered_local} locally and {rendered_farm} on the farm, of {clips}")
    return {"clips": clips, "local_s": local_s, "farm_s": farm_s, "ratio": farm_s / local_s,
            "coordinating_s_per_clip": (farm_s - local_s) / clips, "flow_runs": float(result["flow_runs"]),  # type: ignore[arg-type]
            "submitted_in_s": float(result["submitted_in"]),  # type: ignore[arg-type]
            "local_cpu_s": local_cpu, "planner_cpu_s": planner_cpu, "farm_cpu_s": farm_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="6 clips for the overhead, 20,000 assets for the plan")
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--skip-overhead", action="store_true", help="only the database figures (b) and (c)")
    args = parser.parse_args()
    top = Path(tempfile.mkdtemp(prefix="docfilm-bench-farm-"))
    top.chmod(0o755)  # as root PostgreSQL runs as another user, who must pass through
    cluster = cluster_in(top / "postgres")
    try:
        cluster.initialise()
        cluster.start()
        claims = bench_claims(cluster)
        print(f"(b) lease claims, 16 claimers on PostgreSQL: {claims['claims_per_s']:.0f} claims/s "
              f"({claims['claimed']:.0f} of {claims['pairs']:.0f} queued pairs in {claims['seconds']:.2f} s, each "
              f"claimer taking the next one with SKIP LOCKED), duplicates {claims['duplicates']:.0f} "
              f"(goal ≥ 500/s, none); bare psycopg `SELECT 1` transactions from 16 threads at the same time: "
              f"{claims['bare_per_s']:.0f}/s (claims at {claims['claims_per_s'] / claims['bare_per_s']:.2f} of it); "
              f"CPU {claims['cpu_ms_per_claim']:.2f} ms per claim in this process; {machine()}", flush=True)
        plan = bench_plan(cluster, 20_000 if args.quick else 100_000)
        print(f"(c) plan query, {plan['assets']:.0f} assets ({plan['stale']:.0f} stale): {plan['seconds']:.3f} s "
              f"(goal ≤ 1 s); the bare stale-set SELECT by psycopg: {plan['bare_s']:.3f} s "
              f"(ratio {plan['seconds'] / plan['bare_s']:.2f}); CPU {plan['cpu_s']:.3f} s in this process; {machine()}",
              flush=True)
    finally:
        cluster.stop()
    if not args.skip_overhead:
        clips = 6 if args.quick else args.clips
        over = bench_overhead(top, clips, args.seconds)
        print(f"(a) farm overhead, {clips:.0f} clips of {args.seconds} s: render --farm (2 workers) "
              f"{over['farm_s']:.1f} s / render --jobs 2 {over['local_s']:.1f} s = {over['ratio']:.2f} (goal ≤ 1.15); "
              f"coordinating {over['coordinating_s_per_clip']:.2f} s per clip; {over['flow_runs']:.0f} flow runs, "
              f"submitted in {over['submitted_in_s']:.1f} s; CPU: local render {over['local_cpu_s']:.1f} s, farm "
              f"{over['farm_cpu_s']:.1f} s from the render's start to the farm's stop (planner "
              f"{over['planner_cpu_s']:.1f} s, workers, flow runs and Prefect server; not PostgreSQL); {machine()}",
              flush=True)
    shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()

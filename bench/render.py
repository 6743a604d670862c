"""Benchmark of proxy rendering: docfilm against the same ffmpeg commands run bare, one pass against several.

    .venv/bin/python bench/render.py [--seconds 120] [--jobs N] [--cache /tmp/docfilm-bench] [--keep]
    .venv/bin/python bench/render.py --quick [--assets 1000]

Makes (once, then cached) three camera-like clips of `--seconds` each: ProRes 422 1080p25 with PCM, H.264
4K (3840x2160) with AAC, interlaced 1080i H.264 in MPEG-TS. Two minutes each by default: six minutes of
media is a small night's shoot, and a run takes about 40 minutes on 2 cores (`--seconds 10`: 5 minutes).
Ingests them in place into a fresh DOCFILM_HOME (untimed), then prints, from this one run:

(a) docfilm's wall time: the real `docfilm render --all --json --jobs N` CLI, process start, Prefect,
    ledger and read-back checks included, as a ratio to the very same ffmpeg commands (built by renders
    from the same ledger rows) run bare from a shell with the same parallelism (`xargs -P N`). Target
    ≤ 1.10. Twice: with Prefect's ephemeral server, which each docfilm process starts for itself (the
    embedded default; see flows/prefect_server.py), and against a running `prefect server start` (as
    deployments use; started before, untimed). Also split: the flow's own work (its `seconds`: plan,
    tasks, renders, checks, ledger) and the rest (process and Prefect start); for scale, a flow run with
    nothing to do in its own process; and from how much bare ffmpeg work (and media) that fixed start
    leaves the ratio at or under 1.10.
(b) one pass (proxy + poster + contact sheet + QC from one decode) against the proxy alone (proxy + poster),
    clip by clip, one at a time. Target ≤ 1.25.
(c) the baseline being beaten: proxy alone, then a contact sheet pass and a QC pass each decoding again.
(d) speed as a multiple of real time: media seconds / docfilm's wall time, and per clip for the one pass.
(e) where the one pass's time goes, clip by clip: decode alone, then each part added (rate and deinterlace,
    scale to the proxy frame, burn-in, x264, AAC + poster, contact sheet, QC video, QC audio), wall and CPU;
    the whole against decode alone (target ≤ 1.3). `--stages-only` runs just this, without Prefect.
(f) `docfilm render` with nothing stale among 1,000 assets (`--assets`): its wall time against `docfilm --help`
    (the bare process start) from the same run, and whether it imported prefect (it must not: the decision
    is one ledger query). Target: <= 1 s in all. `--quick` measures only this (seconds, no clips made).

Python processes are started with a bytecode cache (PYTHONPYCACHEPREFIX under --cache) even where the
environment sets PYTHONDONTWRITEBYTECODE: an installed docfilm has compiled bytecode, and without it every
process recompiles Prefect from source (~3 s more a process here). --no-bytecode-cache measures without.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from render_commands import SETTINGS, Clip, ledger_clips, one_pass, proxy_alone, qc_pass, sheet_pass, stage_commands

from flows.docfilm_flows import default_jobs
from flows.workspace import Workspace, film_path
from renders.profile import RenderProfile
from renders.synth import make_clip

ROOT = Path(__file__).resolve().parent.parent
DOCFILM = Path(sys.executable).parent / "docfilm"
CLIPS = [
    # file name, synth kind, size
    ("A001C001_prores-1080p.mov", "prores_mov", (1920, 1080)),
    ("B001C001_h264-4k.mp4", "h264_mp4", (3840, 2160)),
    ("C001C001_1080i.ts", "mpegts_1080i", (1920, 1080)),
]


def make_clips(folder: Path, seconds: float) -> list[Path]:
    """The bench clips, made once per length and kept in `folder`."""
    paths = []
    for i, (name, kind, size) in enumerate(CLIPS):
        path = folder / name
        if not path.exists():
            started = time.monotonic()
            make_clip(path, kind, f"Đại hội XIV · {name}", seconds, f"1{i}:00:00:00", size, timeout_s=1800,
                      settings=SETTINGS)
            print(f"made {name} in {time.monotonic() - started:.1f} s", file=sys.stderr)
        paths.append(path)
    return paths


def child_env(home: Path, pycache: Path | None) -> dict[str, str]:
    env = dict(os.environ, DOCFILM_HOME=str(home))
    env.pop("DOCFILM_S3_ENDPOINT_URL", None)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


@dataclass(frozen=True)
class Cost:
    """Wall time, and CPU time of the child processes (ffmpeg, Python, Prefect's server), in seconds.

    CPU time hardly moves when other work shares the machine; wall time does.
    """

    wall: float
    cpu: float

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.wall + other.wall, self.cpu + other.cpu)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(
    argv: list[str], env: dict[str, str] | None = None, **kwargs: Any
) -> tuple[Cost, subprocess.CompletedProcess[str]]:
    """Run a command to completion; its cost counts every descendant it waited for."""
    cpu, started = _children_cpu(), time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, **kwargs)
    cost = Cost(time.monotonic() - started, _children_cpu() - cpu)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(argv[:4])}… failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return cost, done


def cheapest(costs: list[Cost]) -> Cost:
    """The least disturbed of repeated measurements (wall and CPU each at their minimum)."""
    return Cost(min(c.wall for c in costs), min(c.cpu for c in costs))


def print_stages(clips: list[Clip], profile: RenderProfile, out: Path, repeat: int) -> dict[str, Any]:
    """Run (e) clip by clip and print each part's cost; the one pass against decode alone (target ≤ 1.3)."""
    totals: dict[str, Cost] = {}
    print("(e) where the one pass's time goes, clip by clip (wall s / CPU s, least disturbed of "
          f"{repeat}; each part as the difference from the line above)")
    for c in clips:
        commands = stage_commands(c, profile, out)
        costs = [cheapest([run_bare(argv) for _ in range(repeat)]) for _label, argv in commands]
        previous = None
        for (label, _argv), cost in zip(commands, costs, strict=True):
            totals[label] = totals.get(label, Cost(0, 0)) + cost
            delta = cost if previous is None else Cost(cost.wall - previous.wall, cost.cpu - previous.cpu)
            print(f"    {c.src.display_name[:28]:<28} {label:<30} {delta.wall:>+7.2f} / {delta.cpu:>+7.2f}")
            previous = cost
        print(f"    {c.src.display_name[:28]:<28} one pass / decode alone: {costs[-1].wall / costs[0].wall:.2f} "
              f"(CPU {costs[-1].cpu / costs[0].cpu:.2f})")
    first, last = totals["decode alone"], totals["+ QC audio (the one pass)"]
    print(f"(e) all clips: one pass / decode alone {last.wall / first.wall:.2f} (target <= 1.3; CPU "
          f"{last.cpu / first.cpu:.2f}); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return {label: [round(c.wall, 2), round(c.cpu, 2)] for label, c in totals.items()} | {
        "e_one_pass_vs_decode": round(last.wall / first.wall, 3), "e_cpu": round(last.cpu / first.cpu, 3)}


def run_bare(argv: list[str]) -> Cost:
    cost, _done = timed(argv)
    return cost


def shell_loop(commands: list[list[str]], jobs: int, folder: Path) -> Cost:
    """The commands run from a shell, `jobs` at a time (xargs -P)."""
    scripts = []
    for i, argv in enumerate(commands):
        script = folder / f"cmd{i}.sh"
        script.write_text(shlex.join(argv) + " >/dev/null 2>&1\n", encoding="utf-8")
        scripts.append(str(script))
    listing = folder / "commands.txt"
    listing.write_text("\n".join(scripts) + "\n", encoding="utf-8")
    cost, _done = timed(["sh", "-c", f"xargs -P {jobs} -n 1 sh < {shlex.quote(str(listing))}"])
    return cost


def prefect_start(env: dict[str, str]) -> Cost:
    """A render flow run with nothing stale, in its own process: Prefect's start and nothing else."""
    code = ("from flows.env import prefect_ready, start_prefect; start_prefect(); "
            "from flows.docfilm_flows import render_flow\n"
            "with prefect_ready(): assert render_flow(return_state=True).name == 'SKIPPED'")
    cost, _done = timed([sys.executable, "-c", code], env)
    return cost


def nothing_stale(work: Path, env: dict[str, str], assets: int, repeat: int) -> dict[str, Any]:
    """(f): `docfilm render --json` over `assets` up-to-date assets, against `docfilm --help`, least of `repeat`."""
    from assets_manifest.store import Asset, Proxy

    home = work / "nothing-stale"
    run_env = dict(env, DOCFILM_HOME=str(home))
    run_env.pop("DOCFILM_DATABASE_URL", None)
    for name in [n for n in run_env if n.startswith("PREFECT_")]:
        del run_env[name]  # docfilm's own embedded defaults: were Prefect started, it would be its own server
    saved = os.environ.get("DOCFILM_HOME")
    os.environ["DOCFILM_HOME"] = str(home)
    try:
        ws = Workspace(film_path(None))
        files = ws.renders_dir
        files.mkdir(parents=True, exist_ok=True)
        profile_hash = ws.profile.profile_hash()
        with ws.ledger.session(write=True) as s:
            for n in range(assets):
                asset_id, master = f"a{n:05d}", files / f"master{n}.mov"
                s.add(Asset(asset_id=asset_id, sha256=f"{n:064x}", xxh128=f"{n:032x}", size=1, name=f"S01-{n:04d}.mov",
                            path=str(master), path_bytes=str(master).encode(), kind="video", container="mov",
                            width=320, height=180, fps_num=25, fps_den=1, duration_frames=250, scene_id="S01",
                            probe={"hdr": None}))  # fmt: skip
                proxy, poster, sheet = (files / f"{asset_id}{suffix}" for suffix in (".mp4", ".jpg", ".sheet.jpg"))
                for f in (proxy, poster, sheet):
                    f.touch()
                s.add(Proxy(asset_id=asset_id, profile_hash=profile_hash, state="done", proxy_path=str(proxy),
                            poster_path=str(poster), qc={"contact_sheet": str(sheet), "flags": []}))  # fmt: skip
        ws.ledger.close()
    finally:
        if saved is None:
            os.environ.pop("DOCFILM_HOME", None)
        else:
            os.environ["DOCFILM_HOME"] = saved
    helps, renders = [], []
    for _ in range(repeat):
        helps.append(timed([str(DOCFILM), "--help"], run_env)[0])
        cost, done = timed([str(DOCFILM), "render", "--json"], run_env)
        assert json.loads(done.stdout) == {"rendered": [], "skipped": assets, "failed": []}, done.stdout
        renders.append(cost)
    _cost, done = timed([str(DOCFILM), "render", "--json"], dict(run_env, PYTHONPROFILEIMPORTTIME="1"))
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")}
    bare, render = cheapest(helps), cheapest(renders)
    return {
        "e_assets": assets,
        "e_render_s": round(render.wall, 3),
        "e_help_s": round(bare.wall, 3),
        "e_ratio": round(render.wall / bare.wall, 3),
        "e_render_cpu_s": round(render.cpu, 3),
        "e_help_cpu_s": round(bare.cpu, 3),
        "e_imports_prefect": any(m.split(".")[0] == "prefect" for m in imported),
        "e_prefect_home_made": (home / "prefect").exists(),
    }


def print_nothing_stale(e: dict[str, Any]) -> None:
    print(f"(f) docfilm render, nothing stale among {e['e_assets']} assets: {e['e_render_s']:.2f} s "
          f"(CPU {e['e_render_cpu_s']:.2f} s; target <= 1 s); docfilm --help: {e['e_help_s']:.2f} s "
          f"(CPU {e['e_help_cpu_s']:.2f} s); ratio {e['e_ratio']:.2f}; imported prefect: "
          f"{'yes' if e['e_imports_prefect'] else 'no'}; "
          f"started Prefect: {'yes' if e['e_prefect_home_made'] else 'no'}; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")


@contextmanager
def prefect_server(folder: Path, env: dict[str, str]) -> Iterator[str]:
    """A `prefect server start` on a free loopback port for the block; yields its API URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder.mkdir(parents=True, exist_ok=True)
    server_env = dict(env, PREFECT_HOME=str(folder), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"prefect server did not start: {exc}; see {folder / 'server.log'}") from exc
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120,
                        help="length of each clip (default 120: six minutes of media, a small night's shoot)")
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="clips rendered at once (docfilm's default)")
    parser.add_argument("--repeat", type=int, default=2, help="measure each thing this often, keep the least disturbed")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "docfilm-bench",
                        help="where the clips and the bytecode cache are kept between runs")
    parser.add_argument("--no-bytecode-cache", action="store_true", help="run Python as the environment says")
    parser.add_argument("--keep", action="store_true", help="keep the temp DOCFILM_HOME and outputs")
    parser.add_argument("--stages-only", action="store_true",
                        help="only (e): where the one pass's time goes, part by part, against decode alone")
    parser.add_argument("--assets", type=int, default=1000, help="up-to-date assets for (f), render with nothing stale")
    parser.add_argument("--quick", action="store_true", help="only (f): render with nothing stale (a few seconds)")
    opts = parser.parse_args()

    if opts.quick:
        pycache = None if opts.no_bytecode_cache else opts.cache / "pycache"
        work = Path(tempfile.mkdtemp(prefix="docfilm-bench-"))
        try:
            e = nothing_stale(work, child_env(work / "home", pycache), opts.assets, max(opts.repeat, 3))
        finally:
            if not opts.keep:
                shutil.rmtree(work, ignore_errors=True)
        print_nothing_stale(e)
        print(json.dumps(e))
        return

    clips_dir = opts.cache / f"clips-{opts.seconds:g}s"
    paths = make_clips(clips_dir, opts.seconds)
    pycache = None if opts.no_bytecode_cache else opts.cache / "pycache"
    work = Path(tempfile.mkdtemp(prefix="docfilm-bench-"))
    home = work / "home"
    env = child_env(home, pycache)
    try:
        # Untimed set-up: ingest in place (also creates Prefect's database and warms the bytecode cache); for
        # (e) alone, in this process: no Prefect needed.
        if opts.stages_only:
            from assets_manifest.ingest import ingest
            from assets_manifest.ledger import Ledger
            from assets_manifest.settings import LedgerSettings

            ledger = Ledger.open(LedgerSettings(home=home))
            try:
                ingest(paths, ledger, scene_ids=set(), library=None)
            finally:
                ledger.close()
        else:
            timed([str(DOCFILM), "ingest", "--in-place", "--json", *map(str, paths)], env, timeout=1800)
        clips = ledger_clips(home)
        assert len(clips) == len(CLIPS), [c.src.display_name for c in clips]
        profile = RenderProfile()
        media_s = sum(c.seconds for c in clips)
        stages_dir = work / "stages"
        stages_dir.mkdir()
        stages = print_stages(clips, profile, stages_dir, opts.repeat)
        if opts.stages_only:
            print(json.dumps(stages, ensure_ascii=False))
            return

        # (a) the same commands bare and through docfilm, taking turns.
        bare_dir = work / "bare"
        bare_dir.mkdir()
        bare_runs: list[Cost] = []
        runs: dict[str, list[tuple[Cost, float]]] = {"ephemeral": [], "server": []}

        def docfilm_render(mode: str, run_env: dict[str, str]) -> None:
            cost, done = timed([str(DOCFILM), "render", "--all", "--json", "--jobs", str(opts.jobs)], run_env,
                               timeout=3600)  # fmt: skip
            report = json.loads(done.stdout)
            assert len(report["rendered"]) == len(clips) and not report["failed"], report["failed"]
            runs[mode].append((cost, float(report["seconds"])))

        with prefect_server(work / "prefect-server", env) as api_url:
            server_env = dict(env, PREFECT_API_URL=api_url)
            for _ in range(opts.repeat):
                bare_runs.append(shell_loop([one_pass(c, profile, bare_dir) for c in clips], opts.jobs, bare_dir))
                docfilm_render("ephemeral", env)
                docfilm_render("server", server_env)
        bare = cheapest(bare_runs)
        best = {mode: min(found, key=lambda run: run[0].wall) for mode, found in runs.items()}
        docfilm, flow_s = best["ephemeral"]
        docfilm = Cost(docfilm.wall, min(run[0].cpu for run in runs["ephemeral"]))
        served, served_flow_s = best["server"]
        noop = cheapest([prefect_start(env) for _ in range(opts.repeat)])
        stale = nothing_stale(work, env, opts.assets, max(opts.repeat, 3))

        # (b), (c): clip by clip, one at a time.
        rows: list[dict[str, Any]] = []
        totals = {"alone": Cost(0, 0), "one": Cost(0, 0), "separate": Cost(0, 0)}
        for c in clips:
            out = work / f"passes-{c.src.asset_id}"
            out.mkdir()
            alone_runs, one_runs, separate_runs = [], [], []
            for turn in range(opts.repeat):
                if turn % 2:  # take turns, so neither comes first every time
                    one_runs.append(run_bare(one_pass(c, profile, out)))
                alone = run_bare(proxy_alone(c, profile, out))
                alone_runs.append(alone)
                if not turn % 2:
                    one_runs.append(run_bare(one_pass(c, profile, out)))
                separate_runs.append(alone + run_bare(sheet_pass(c, profile, out)) + run_bare(qc_pass(c, profile, out)))
            alone, one, separate = cheapest(alone_runs), cheapest(one_runs), cheapest(separate_runs)
            totals = {"alone": totals["alone"] + alone, "one": totals["one"] + one,
                      "separate": totals["separate"] + separate}  # fmt: skip
            rows.append({"clip": c.src.display_name, "seconds": round(c.seconds, 2),
                         "proxy_alone": [round(alone.wall, 2), round(alone.cpu, 2)],
                         "one_pass": [round(one.wall, 2), round(one.cpu, 2)],
                         "separate_passes": [round(separate.wall, 2), round(separate.cpu, 2)],
                         "one_pass_x_realtime": round(c.seconds / one.wall, 2)})  # fmt: skip
        # Where the fixed cost (process and Prefect start) stops mattering: bare ffmpeg work from which the
        # ratio is <= 1.10, given the flow's own ratio; None when the flow's own work alone is above 1.10.
        flow_ratio = flow_s / bare.wall
        break_even_bare = round((docfilm.wall - flow_s) / (1.10 - flow_ratio), 1) if flow_ratio < 1.10 else None
        break_even_media = round(break_even_bare * media_s / bare.wall, 1) if break_even_bare is not None else None
        result = {
            "jobs": opts.jobs,
            "repeat": opts.repeat,
            "media_seconds": round(media_s, 2),
            "bytecode_cache": pycache is not None,
            "a_docfilm_s": round(docfilm.wall, 2),
            "a_bare_shell_s": round(bare.wall, 2),
            "a_ratio": round(docfilm.wall / bare.wall, 3),
            "a_cpu_ratio": round(docfilm.cpu / bare.cpu, 3),
            "a_flow_work_s": round(flow_s, 2),
            "a_flow_work_ratio": round(flow_s / bare.wall, 3),
            "a_start_s": round(docfilm.wall - flow_s, 2),
            "a_noop_flow_process_s": round(noop.wall, 2),
            "a_server_docfilm_s": round(served.wall, 2),
            "a_server_ratio": round(served.wall / bare.wall, 3),
            "a_server_start_s": round(served.wall - served_flow_s, 2),
            "a_break_even_bare_s": break_even_bare,
            "a_break_even_media_s": break_even_media,
            "b_one_pass_vs_proxy_alone": round(totals["one"].wall / totals["alone"].wall, 3),
            "b_cpu": round(totals["one"].cpu / totals["alone"].cpu, 3),
            "c_separate_passes_vs_proxy_alone": round(totals["separate"].wall / totals["alone"].wall, 3),
            "c_cpu": round(totals["separate"].cpu / totals["alone"].cpu, 3),
            "d_docfilm_x_realtime": round(media_s / docfilm.wall, 2),
            "d_flow_work_x_realtime": round(media_s / flow_s, 2),
            "d_bare_x_realtime": round(media_s / bare.wall, 2),
            "d_one_pass_x_realtime": round(media_s / totals["one"].wall, 2),
            **stale,
            "clips": rows,
        }
    finally:
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)

    print("wall s / CPU s, least disturbed of", opts.repeat)
    for r in rows:
        cells = [f"{r[k][0]:>6.2f}/{r[k][1]:<6.2f}" for k in ("proxy_alone", "one_pass", "separate_passes")]
        print(f"{r['clip']:<28} {r['seconds']:>5} s  proxy alone {cells[0]} one pass {cells[1]} "
              f"separate passes {cells[2]} {r['one_pass_x_realtime']:>5.2f}x real time")
    print(f"(a) docfilm render --all: {docfilm.wall:.2f} s, bare ffmpeg (xargs -P {opts.jobs}): {bare.wall:.2f} s, "
          f"ratio {result['a_ratio']:.3f} (target <= 1.10; CPU {result['a_cpu_ratio']:.3f})\n"
          f"    of which the flow's own work {flow_s:.2f} s (ratio {result['a_flow_work_ratio']:.3f}) and process + "
          f"Prefect start {docfilm.wall - flow_s:.2f} s; a no-op flow run in its own process: {noop.wall:.2f} s\n"
          f"    against a running Prefect server: {served.wall:.2f} s, ratio {result['a_server_ratio']:.3f} "
          f"(process + Prefect client start {served.wall - served_flow_s:.2f} s)")
    if break_even_bare is not None:
        print(f"    with this start, the ratio is <= 1.10 from {break_even_bare:.0f} s of bare ffmpeg work "
              f"({break_even_media:.0f} s of media like this set; this run: {media_s:.0f} s)")
    print(f"(b) one pass / proxy alone: {result['b_one_pass_vs_proxy_alone']:.3f} "
          f"(target <= 1.25; CPU {result['b_cpu']:.3f})")
    print(f"(c) separate passes / proxy alone: {result['c_separate_passes_vs_proxy_alone']:.3f} "
          f"(the baseline; CPU {result['c_cpu']:.3f})")
    print(f"(d) {media_s:.0f} s of media: docfilm {result['d_docfilm_x_realtime']:.2f}x real time (its flow's work "
          f"{result['d_flow_work_x_realtime']:.2f}x), bare ffmpeg {result['d_bare_x_realtime']:.2f}x, one pass clip by "
          f"clip {result['d_one_pass_x_realtime']:.2f}x")
    print_nothing_stale(stale)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()

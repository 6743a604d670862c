"""`docfilm farm local`: PostgreSQL, a Prefect server, S3 and N workers on this machine, until Ctrl-C (no Prefect
import here: the farm drives Prefect's command line)."""

from __future__ import annotations

import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from core.signals import ignore_stop_signals, on_stop_signals

from .application import _settings, app, err

farm_app = typer.Typer(help="The render farm (README \"Scale out\").", no_args_is_help=True)
app.add_typer(farm_app, name="farm")


class _Stop(Exception):
    """Ctrl-C or SIGTERM arrived: stop the farm."""


def _on_stop(_signum: int, _frame: FrameType | None) -> None:
    raise _Stop


@farm_app.command("local")
def farm_local(
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Process workers to start.")] = 2,
    env_file: Annotated[Path | None, typer.Option(
        "--env-file", help="Where to write the farm's `export` lines (mode 0600); default DOCFILM_HOME/farm/env.")
    ] = None,
) -> None:
    """The farm on this machine: PostgreSQL, Prefect server, S3, deployments and N workers, until Ctrl-C/SIGTERM."""
    from farm.local import LocalFarm

    settings = _settings()
    farm = LocalFarm(home=settings.home, workers=workers, settings=settings.farm,
                     say=lambda line: err.print(line, markup=False, highlight=False, soft_wrap=True))
    # Both signals are ours even when inherited ignored (`docfilm farm local &` in a script; core.signals).
    with on_stop_signals(_on_stop):
        try:
            env = farm.start()
            target = (env_file or settings.home / "farm" / "env").absolute()
            env.write(target)
            err.print(f"farm ready: `source {target}` in another shell, then `docfilm ingest …` and "
                      "`docfilm render --farm`. Ctrl-C stops it.", markup=False, soft_wrap=True)
            print(f"env file: {target}", flush=True)
            while True:
                time.sleep(1.0)
                for name, process in list(farm.worker_processes.items()):
                    if process.poll() is not None:
                        err.print(f"worker {name} exited ({process.returncode}); the others go on", markup=False)
                        del farm.worker_processes[name]
        except _Stop:  # Ctrl-C too: inside on_stop_signals SIGINT raises _Stop, not KeyboardInterrupt
            err.print("stopping the farm …", markup=False)
        finally:
            ignore_stop_signals()  # a second signal must not cut the stop short (restored on the way out)
            began = time.monotonic()
            farm.stop()
            err.print(f"farm stopped in {time.monotonic() - began:.1f} s", markup=False)

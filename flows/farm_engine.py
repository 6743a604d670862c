"""Entry of a render-asset flow run on a farm worker: the work pool's job command `python -m flows.farm_engine`
(`farm local` deploys with it), in place of `python -m prefect.engine`, which it then runs the same way.

Before handing over it imports Prefect's engine and what the flow run will import (the flows, the farm's steps,
boto3) with Python's cyclic garbage collector paused: those imports create a few hundred thousand long-lived
objects that the collector would scan again and again, finding nothing to free (~0.3 s of the ~1.7 s of import
CPU here, on the path to each worker's first ffmpeg). And when nothing reads Prefect's flow-run heartbeats
(flows.env.heartbeats_read), the run sends none.

Usage (as a job command, never by hand): python -m flows.farm_engine [FLOW_RUN_ID]
"""

from __future__ import annotations

import gc
import importlib
import runpy
import sys
from contextlib import nullcontext, suppress

from core.collector import collector_paused
from core.errors import EXIT_INPUT

# What a render-asset flow run imports: Prefect's engine, the flows module (the entrypoint's script is executed
# again as its own module, its imports found already made), and what the flow imports as it runs.
RUN_MODULES = (
    "prefect.engine", "prefect.flow_engine", "prefect.client.orchestration", "prefect.concurrency.sync",
    "prefect.deployments.steps", "flows.docfilm_flows", "flows.farm_steps", "flows.farm_prefect",
    "flows.masters_steps", "delivery.store", "delivery.upload", "delivery.cache", "renders.render", "boto3",
)


def main() -> None:
    with collector_paused():
        from pydantic import ValidationError

        from flows.settings import AppSettings, settings_problems

        try:
            heartbeats = AppSettings().prefect_heartbeats  # this entry point reads its one setting itself
        except ValidationError as exc:  # one line in the worker's log, as a command says it (exit 2)
            print("docfilm: " + "; ".join(settings_problems(AppSettings, exc)), file=sys.stderr)
            raise SystemExit(EXIT_INPUT) from None
        for name in RUN_MODULES:
            with suppress(ImportError):  # the flow run imports what it needs itself, and says what is missing
                importlib.import_module(name)
    gc.freeze()  # out of the collector's sight for the run's life; collection goes on for what comes next
    from prefect.settings import temporary_settings

    from flows.env import heartbeats_read

    sent = heartbeats_read(heartbeats)
    quiet = nullcontext() if sent else temporary_settings(updates={"flows.heartbeat_frequency": None})
    with quiet:
        runpy.run_module("prefect.engine", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()

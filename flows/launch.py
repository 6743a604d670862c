"""The `docfilm` entry point: for a command that always runs a flow, Prefect's embedded server starts first.

That server's start (about 3 s of CPU importing Prefect's server package) is the longest part of a flow
command's fixed start, and the command waits for it. Started here, before the command line's own imports
(Typer, every command module, the settings: 0.2-0.3 s), it boots in parallel with them. Only command lines
that surely run a flow are recognised (anything else, or any doubt, starts it later, where the command
decides, as before); with Prefect configured (PREFECT_API_URL and the like) nothing is started here.

Nothing here imports prefect.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

# First argument -> options that must all be present; any of OPTED_OUT present means no early start.
ALWAYS_A_FLOW: dict[str, tuple[str, ...]] = {
    "render": ("--all",),  # without --all, nothing stale means no flow and no server
    "upload": (),
}
OPTED_OUT = ("--farm", "--help", "-h")


def runs_a_flow(args: Sequence[str]) -> bool:
    """True when this command line surely runs a flow on this machine."""
    if not args or args[0] not in ALWAYS_A_FLOW:
        return False
    return all(a in args for a in ALWAYS_A_FLOW[args[0]]) and not any(a in OPTED_OUT for a in args)


def main() -> None:
    if runs_a_flow(sys.argv[1:]):
        from flows.env import start_prefect

        start_prefect()
    from flows.cli import main as cli_main

    cli_main()

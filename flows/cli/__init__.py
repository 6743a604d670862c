"""The `docfilm` command line (Typer).

Commands that need no flow (storyboard check, status, show) never import Prefect, so they answer at once.
Exit codes: 0 all done; 1 finished but some items failed or were quarantined; 2 bad input or usage
(nothing written); 3 environment problem (ffmpeg, S3 or database unreachable).

Failures are mapped in one place (`DocfilmGroup`): any `core.errors.DocfilmError` in an exception's chain
(Prefect may wrap it) ends the command with one line `docfilm: <message>` and the error's own `exit_code`;
`--debug` (or DOCFILM_DEBUG=1) adds its traceback. Anything else is a bug and keeps its traceback (exit 1).
"""

from __future__ import annotations

# Each module registers its commands on the app when imported, in this order (that of `docfilm --help`).
# isort: off
from . import film, facts, footage, packet, pipeline, ledger, cut, database, farm  # noqa: F401
# isort: on
from .application import EXIT_ENV, EXIT_INPUT, EXIT_OK, EXIT_PARTIAL, app, main

__all__ = ["EXIT_ENV", "EXIT_INPUT", "EXIT_OK", "EXIT_PARTIAL", "app", "main"]

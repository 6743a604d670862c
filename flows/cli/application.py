"""The `docfilm` application: global options, the one map from failures to exit codes, shared helpers.

Failures are mapped in one place (`DocfilmGroup`): any `core.errors.DocfilmError` in an exception's chain
(Prefect may wrap it) ends the command with one line `docfilm: <message>` and the error's own `exit_code`;
`--debug` (or DOCFILM_DEBUG=1) adds its traceback. Anything else is a bug and keeps its traceback (exit 1).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn, Protocol, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from typer._click.core import Context as ClickContext  # Typer vendors click; its group takes this Context
from typer.core import TyperGroup

from core.collector import collector_paused
from core.errors import EXIT_ENV, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, DocfilmError, known_error

from ..console import setup_console_logging
from ..env import prefect_ready, start_prefect
from ..settings import AppSettings, DocfilmSettings, SettingsInvalid
from ..workspace import Workspace, film_path

__all__ = ["EXIT_ENV", "EXIT_INPUT", "EXIT_OK", "EXIT_PARTIAL", "app", "main"]

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)
log = logging.getLogger("docfilm")


@dataclass
class CommandState:
    """What the global options and the environment say for the command being run (reset per invocation)."""

    verbose: bool = False
    debug: bool = False
    settings: DocfilmSettings | None = None
    ledger_checked: bool = False


_state = CommandState()


class DocfilmGroup(TyperGroup):
    """The command group that runs every command inside the one map from failures to exit codes."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            # Chosen exit codes and usage errors, reported by Typer itself (even when raised while handling a
            # DocfilmError, which their context would otherwise name again).
            raise
        except KeyboardInterrupt:
            # Ctrl-C: one line instead of Typer's silent 130 after Prefect's "Crash detected!" (console.py).
            err.print("[bold red]docfilm:[/] interrupted: what was finished is kept (verified copies, proxies, "
                      "uploads); run the command again to go on", soft_wrap=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            known = known_error(exc)
            if known is None:
                raise  # a bug: its traceback is what a bug report needs
            _report(exc, known)
            raise typer.Exit(known.exit_code) from None


def _report(exc: BaseException, known: DocfilmError) -> None:
    """`docfilm: <message>` (a message of several lines, e.g. a storyboard's problems, keeps them all)."""
    if _state.debug:
        err.print("".join(traceback.format_exception(exc)), markup=False, highlight=False, soft_wrap=True)
    first, *rest = (str(known) or type(known).__name__).splitlines() or [type(known).__name__]
    err.print(f"[bold red]docfilm:[/] {escape(first)}", soft_wrap=True)
    for line in rest:
        err.print(line, markup=False, soft_wrap=True)


app = typer.Typer(
    cls=DocfilmGroup,
    help="docfilm: storyboard → footage ingest → proxies → S3 → review packet, for the Can Tho XIV "
    "Congress documentary.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
FilmOpt = Annotated[
    Path | None,
    typer.Option("--film", help="Storyboard YAML to use instead of the bundled film (or DOCFILM_FILM).",
                 exists=False, dir_okay=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else.")]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Date to count days from, YYYY-MM-DD (default: today).")
]


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Debug logging and Prefect's run lines on stderr.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show the traceback of known failures too (or DOCFILM_DEBUG=1).")] = False,
) -> None:
    # Reset in place: modules holding `_state` see this command's options (tests invoke the app repeatedly).
    _state.verbose, _state.debug, _state.settings, _state.ledger_checked = verbose, debug, None, False
    setup_console_logging(err, verbose=verbose, debug=debug)
    # Read once for the whole command; a bad DOCFILM_* value ends it here with exit 2, naming the variable.
    try:
        _state.settings = DocfilmSettings.load()
    except SettingsInvalid:
        _state.debug = debug or _debug_from_env()  # DOCFILM_DEBUG=1 shows this failure's traceback too
        raise
    if _state.settings.app.debug and not debug:
        _state.debug = True
        setup_console_logging(err, verbose=verbose, debug=True)


def _debug_from_env() -> bool:
    try:
        return AppSettings().debug
    except ValidationError:
        return False


def _settings() -> DocfilmSettings:
    """The command's settings, read once by the callback (or here, when a test calls a command directly)."""
    if _state.settings is None:
        _state.settings = DocfilmSettings.load()
    return _state.settings


def _film_file(film: Path | None) -> Path:
    """--film, else DOCFILM_FILM, else the bundled film."""
    return film_path(film or _settings().app.film)


def _workspace(film: Path | None) -> Workspace:
    return Workspace(_film_file(film), _settings())


def _fail(code: int, message: str) -> NoReturn:
    err.print(f"[bold red]docfilm:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def _parse_date(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(EXIT_INPUT, f"--as-of {text!r}: expected a date as YYYY-MM-DD")


class JsonRecord(Protocol):
    """A result record (flows.results, the domain's reports): JSON is made from it only here, at the edge."""

    def to_json(self) -> Mapping[str, object]: ...


R = TypeVar("R", bound=JsonRecord | Mapping[str, object])


def _emit(result: R, as_json: bool, human: Callable[[R], None]) -> None:
    """`--json`: the record's JSON, one object on stdout; otherwise the command's printer reads the record."""
    if as_json:
        data = result if isinstance(result, Mapping) else result.to_json()
        sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    else:
        human(result)


@contextmanager
def _flows() -> Iterator[Any]:
    """The flows module, with Prefect ready: its server (when docfilm runs one) boots during the import."""
    _ledger_server_checked()
    start_prefect()
    with collector_paused():  # Prefect and the flows: ~2 s of imports, a fifth of it the collector's scans
        from .. import docfilm_flows

    with prefect_ready(_settings().app.prefect_heartbeats):
        yield docfilm_flows


def _ledger_server_checked() -> None:
    """Before a flow command starts Prefect: a ledger on a database server that cannot be reached, or that is not
    at this docfilm's schema (`docfilm db upgrade`), is refused now (exit 3), not after a server's start. The
    embedded SQLite ledger is local and migrated by the flow itself."""
    if _state.ledger_checked:
        return
    settings = _settings().ledger
    if not settings.url().startswith("sqlite"):
        from assets_manifest.ledger import Ledger

        Ledger.open(settings).engine.dispose()
    _state.ledger_checked = True


@contextmanager
def _bars() -> Iterator[None]:
    """Progress bars on stderr while the block runs, when stderr is a terminal (ingest files, render frames)."""
    _ledger_server_checked()
    start_prefect()  # before the bars' thread: the server's start forks this process
    from ..progress import RichRenderProgress, reporting

    bars = RichRenderProgress(err) if err.is_terminal else None
    with bars or nullcontext(), reporting(bars):
        yield


def main() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where a script started us ignoring it
        signal.signal(signal.SIGINT, _interrupted)
    app()


def _interrupted(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C: end the renders running on worker threads now (the interrupt reaches the main thread only, whose
    task runner would otherwise wait for each clip in progress to finish), then interrupt as Python does."""
    runner = sys.modules.get("renders.runner")
    if runner is not None:
        runner.stop_running()
    raise KeyboardInterrupt

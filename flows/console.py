"""What docfilm writes to the terminal's stderr: its own log lines and Prefect's run lines, quiet by default.

One handler on the root logger prints through the command's Rich console, so log lines go above the progress
bars instead of through them. Prefect sees that handler as the user's and leaves the root logger alone; its
flow and task run loggers keep their own API handler, so the Prefect UI still receives every line and every
traceback. Only this console is filtered:
- without -v, only warnings and errors are shown: not Prefect's run lines ("Beginning flow run", "Finished in
  state Completed()", nor a failed task's "Finished in state Failed(…)", which repeats the line before it), nor
  the packages' progress notes; the command prints one line per stage itself;
- a record carrying a known failure (a DocfilmError anywhere in its exception chain) is shown as one line,
  once per failure, without the traceback, unless --debug / DOCFILM_DEBUG asks for tracebacks.

Nothing here imports prefect.
"""

from __future__ import annotations

import logging
import weakref

from rich.console import Console

from core.errors import known_error

OUR_LOGGERS = ("docfilm", "core", "flows", "storyboard", "assets_manifest", "renders", "delivery", "review")
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
# Prefect's crash message for a run stopped by Ctrl-C (prefect.states), logged once per flow run in the stack.
INTERRUPTED = "Execution was aborted by an interrupt signal"


class ConsoleFormatter(logging.Formatter):
    """`LEVEL logger: message`; a Prefect run line names its run instead of the logger (as Prefect's own does)."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        run = getattr(record, "task_run_name", None) or getattr(record, "flow_run_name", None)
        if run and record.name.startswith(RUN_LOGGERS):
            kind = "task run" if record.name.startswith("prefect.task_runs") else "flow run"
            line = line.replace(f" {record.name}: ", f" {kind} {run!r}: ", 1)
        return line


class ConsoleHandler(logging.Handler):
    """Prints each record as one Rich console line (soft-wrapped, no markup), above any live progress bars."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self.setFormatter(ConsoleFormatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            self.console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)
        except Exception:
            self.handleError(record)


class ConsoleFilter(logging.Filter):
    """Quiet Prefect's run lines unless verbose; known failures as one line unless debug (see the module doc)."""

    def __init__(self, verbose: bool, debug: bool) -> None:
        super().__init__()
        self.verbose = verbose
        self.debug = debug
        # A failure raised in a task is logged again by each flow it passes through: say it once. Weak, so that
        # a later failure can never be taken for one told before that was freed (as an id could).
        self._told: weakref.WeakSet[BaseException] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.verbose and record.name.startswith(RUN_LOGGERS) and str(record.msg).startswith("Finished in"):
            return False
        if not self.verbose and record.name.startswith(RUN_LOGGERS) and INTERRUPTED in record.getMessage():
            return False  # Ctrl-C: the command ends on its own one line (flows.cli), Prefect's UI keeps the crash
        if not self.verbose and str(record.msg).startswith("Still processing items") and record.name.endswith(
                "Worker"):
            # Prefect's event and log workers flushing to its API as the process exits (loggers named after
            # their class, e.g. EventsWorker): nothing a producer can act on, and it came after the command's
            # own last line, so a known failure no longer ended on its one line. -v shows it.
            return False
        error = record.exc_info[1] if record.exc_info else None
        known = known_error(error) if error is not None else None
        if known is None or self.debug:
            return True
        if known in self._told:
            return False
        self._told.add(known)
        # The API handler of Prefect's run loggers ran before this root handler (a logger's own handlers
        # come first) and already sent the traceback; from here on the record serves this console only.
        # exc_text too: the API handler's formatter cached the formatted traceback there.
        record.exc_info = None
        record.exc_text = None
        return True


def setup_console_logging(console: Console, *, verbose: bool, debug: bool) -> None:
    """Route every log line on stderr through `console`: warnings and errors, and with -v our own debug lines and
    Prefect's run lines too. Our loggers stay at INFO (DEBUG with -v) for other handlers; the console decides.

    Called once per command; a second call (tests invoking the app again) replaces the handler.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, ConsoleHandler)]:
        root.removeHandler(handler)
    handler = ConsoleHandler(console)
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    handler.addFilter(ConsoleFilter(verbose=verbose, debug=debug))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)

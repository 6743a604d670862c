"""core.signals: long-running commands take Ctrl-C and SIGTERM whatever they inherited, and a stop in progress
disregards more of them without passing that on to the processes it starts."""

from __future__ import annotations

import os
import signal
import subprocess

from core.signals import STOP_SIGNALS, ignore_stop_signals, on_stop_signals


def _ignored_in_a_child() -> set[int]:
    """The signals a child started now has ignored (from its SigIgn mask)."""
    text = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True, check=True).stdout
    mask = int(next(line for line in text.splitlines() if line.startswith("SigIgn:")).split()[1], 16)
    return {signum for signum in STOP_SIGNALS if mask & (1 << (signum - 1))}


def test_signals_inherited_ignored_are_taken_and_given_back() -> None:
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)  # as `docfilm serve &` in a script starts it
        seen: list[int] = []
        with on_stop_signals(lambda signum, _frame: seen.append(signum)):
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
        assert seen == [signal.SIGINT, signal.SIGTERM]
        assert all(signal.getsignal(signum) == signal.SIG_IGN for signum in STOP_SIGNALS), "given back as found"
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def test_a_stop_in_progress_disregards_both_but_its_children_take_them() -> None:
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    stops: list[int] = []
    with on_stop_signals(lambda signum, _frame: stops.append(signum)):
        ignore_stop_signals()
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stops == [], "a second Ctrl-C during the stop does nothing"
        assert _ignored_in_a_child() == set(), "a child started during the stop would otherwise outlive SIGTERM"
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before

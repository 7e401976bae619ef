"""SIGINT and SIGTERM stop a long command promptly (pipeline.interrupt): the main thread gets ``Stopped``, the
children still running are ended, and a main thread that does not finish in time (or a second signal) has the
watchdog end the process as a kill would, after its last words. Without Dagster or dbt: see test_stop_run for
real runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from pipeline import interrupt
from pipeline.interrupt import Stopped, descendants, stop_line, stop_on_signals
from tests.conftest import REPO_ROOT


def test_a_signal_raises_stopped_and_the_handlers_come_back():
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(Stopped) as caught, stop_on_signals():
        assert interrupt.requested() is None
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the signal ends this at once
    assert caught.value.signum == signal.SIGTERM and caught.value.exit_code == 143
    assert {sig: signal.getsignal(sig) for sig in before} == before
    assert interrupt.requested() is None  # outside the block nothing is pending
    assert Stopped(signal.SIGINT).exit_code == 130


def test_the_stop_line_says_what_was_left():
    assert stop_line(Stopped(signal.SIGTERM)) == (
        "stopped by SIGTERM; the published warehouse is unchanged, the landing store whole (nothing half-written)"
    )
    assert stop_line(Stopped(signal.SIGINT, published=True)).startswith(
        "stopped by SIGINT after the warehouse was published"
    )


# SIGINT as a terminal gives it: a suite started in the background (`make test &`) hands its children SIGINT
# ignored, which pipeline.interrupt rightly keeps (as bench/proof's commands get it back the same way).
_TERMINAL_SIGINT = "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"


def _python(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _TERMINAL_SIGINT + textwrap.dedent(code)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _ready(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline()
    assert line.startswith("ready"), line + proc.stdout.read()
    return line


def test_children_still_running_are_ended_with_the_command():
    proc = _python(
        """
        import subprocess, time
        from pipeline.interrupt import Stopped, stop_on_signals
        try:
            with stop_on_signals():
                child = subprocess.Popen(["sleep", "60"])
                print("ready", child.pid, flush=True)
                time.sleep(60)  # the signal may come in the print already: the same for what follows
        except Stopped as stop:
            print("stopped", stop.name, child.poll(), flush=True)
        """
    )
    child = int(_ready(proc).split()[1])
    assert child in descendants(proc.pid)
    started = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert time.monotonic() - started < 5
    assert out.strip() == f"stopped SIGTERM {-signal.SIGTERM}", out  # the sleep was terminated


@pytest.mark.parametrize("second_signal", [True, False], ids=["second-signal", "deadline"])
def test_a_main_thread_that_does_not_finish_is_ended_by_the_watchdog(second_signal):
    proc = _python(
        """
        import sys, time
        from pipeline import interrupt
        interrupt.DEADLINE = 1.5
        def farewell(stop):
            print("farewell", stop.name, flush=True)
        with interrupt.stop_on_signals(farewell=farewell):
            ready = False
            while True:  # a main thread that ignores the stop (stuck in native code, say)
                try:
                    if not ready:
                        ready = True
                        print("ready", flush=True)
                    time.sleep(0.05)
                except KeyboardInterrupt:
                    pass
        """
    )
    _ready(proc)
    started = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    if second_signal:
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    elapsed = time.monotonic() - started
    assert proc.returncode == 130
    assert out.strip() == "farewell SIGINT"
    assert elapsed < (1.5 if second_signal else 5)

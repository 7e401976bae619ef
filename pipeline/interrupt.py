"""Runs that stop when asked: SIGINT (Ctrl+C) and SIGTERM end ``kostra run``, ``build`` and ``fetch`` within
seconds, leaving the landing store and the published warehouse as a kill would: whole or untouched (a landing
write and a publish are each a rename of a whole file).

:func:`stop_on_signals` (the CLI's long commands run inside it):

1. Outside a Dagster run the signal raises :class:`Stopped` (a ``KeyboardInterrupt``) in the main thread at
   once: a request in flight is abandoned, the demo server shut down on the way out. Inside a run Dagster's
   own handler takes the signal (it replaces ours for the run's length): it interrupts the step (dagster-dbt
   forwards SIGINT to dbt and waits for it) and ends the run; ``orchestration.run`` then marks the run
   CANCELED and raises :class:`Stopped` (see :func:`requested`).
2. A watchdog thread hears every signal too, through the signal wakeup fd (which no handler replaces). When
   the main thread is not done :data:`GRACE` seconds after the first signal, it terminates the process's
   children still running (dbt, Dagster's log tails), kills them :data:`KILL_AFTER` seconds later, and after
   :data:`DEADLINE` seconds (the main thread blocked in native code, e.g. a long DuckDB statement) or at a
   second signal it ends the process itself, as a kill would, after the ``farewell`` callback.
3. The CLI prints one line and exits 130 (SIGINT) or 143 (SIGTERM): :attr:`Stopped.exit_code`.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE = 3.0  # seconds from the first signal to terminating the children still running
KILL_AFTER = 2.0  # then seconds to SIGKILL the ones still there
DEADLINE = 8.0  # seconds from the first signal to ending the process whatever the main thread does


class Stopped(KeyboardInterrupt):
    """The command was stopped by a signal; ``published`` when the build had published before the stop."""

    def __init__(self, signum: int, *, published: bool = False) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)
        self.published = published

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def stop_line(stop: Stopped) -> str:
    """The one line a stopped command prints."""
    if stop.published:
        return f"stopped by {stop.name} after the warehouse was published; the landing store is whole"
    return (
        f"stopped by {stop.name}; the published warehouse is unchanged, the landing store whole "
        "(nothing half-written)"
    )


class _Guard:
    """The state of one :func:`stop_on_signals`: which signal came first, how many came, the watchdog."""

    def __init__(
        self, farewell: Callable[[Stopped], None] | None, on_stop: Callable[[int], None] | None
    ) -> None:
        self.farewell = farewell
        self.on_stop = on_stop
        self.lock = threading.RLock()  # our signal handler may come in while the main thread holds it
        self.signum: int | None = None
        self.count = 0
        self.raised = False
        self.first_at = 0.0
        self.done = threading.Event()
        self.force_hooks: list[Callable[[], None]] = []
        self.read_fd, self.write_fd = os.pipe()
        for fd in (self.read_fd, self.write_fd):
            os.set_blocking(fd, False)
        # The terminal as it is now: while a Dagster step runs, its compute-log capture points fd 1 and 2 at
        # files, and the last words of a forced exit must reach the person who sent the signal.
        try:
            self.terminal_fd: int | None = os.dup(sys.__stderr__.fileno())
        except (AttributeError, OSError, ValueError):
            self.terminal_fd = None

    def note(self, signum: int, *, count: bool = True) -> None:
        with self.lock:
            self.count += int(count)  # counted from the wakeup fd only, which sees every signal once
            first = self.signum is None
            if first:
                self.signum = signum
                self.first_at = time.monotonic()
        if first and self.on_stop is not None:
            with contextlib.suppress(Exception):
                self.on_stop(signum)

    def drain(self) -> None:
        """Count the stop signals the wakeup fd has seen since the last look."""
        while True:
            try:
                data = os.read(self.read_fd, 512)
            except OSError:  # BlockingIOError: nothing more to read
                return
            if not data:
                return
            for byte in data:
                if byte in STOP_SIGNALS:
                    self.note(byte)

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd, self.terminal_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)


_guard: _Guard | None = None


def requested() -> int | None:
    """The signal that asked the command to stop (None when none did)."""
    guard = _guard
    if guard is None:
        return None
    guard.drain()
    return guard.signum


@contextlib.contextmanager
def at_force_exit(hook: Callable[[], None]) -> Iterator[None]:
    """Run ``hook`` (from the watchdog thread, best effort) should the process have to end itself while the
    block runs: e.g. mark the Dagster run canceled when its step cannot be interrupted."""
    guard = _guard
    if guard is None:
        yield
        return
    guard.force_hooks.append(hook)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            guard.force_hooks.remove(hook)


def to_terminal(text: str) -> bool:
    """Write ``text`` on the terminal the guarded command started on, past any capture of fd 1 and 2 (see
    :class:`_Guard`); False when there is no guard or no such terminal."""
    guard = _guard
    if guard is None or guard.terminal_fd is None:
        return False
    data = text.encode("utf-8", errors="replace")
    try:
        while data:
            data = data[os.write(guard.terminal_fd, data) :]
    except OSError:
        return False
    return True


def _on_signal(signum: int, frame) -> None:  # noqa: ANN001 - the signal module's signature
    guard = _guard
    if guard is None:
        raise Stopped(signum)
    guard.note(signum, count=False)
    if not guard.raised:
        guard.raised = True
        raise Stopped(guard.signum or signum)
    # A second signal while the command winds down: the watchdog ends the process now.


@contextlib.contextmanager
def stop_on_signals(
    farewell: Callable[[Stopped], None] | None = None, on_stop: Callable[[int], None] | None = None
) -> Iterator[None]:
    """SIGINT and SIGTERM stop the block promptly (see the module's docstring). ``on_stop(signum)`` runs as
    soon as the first signal is noticed (by our handler or the watchdog): the CLI stops echoing on the terminal
    what Dagster says about the interrupted step (the log file still gets it). ``farewell(stop)`` runs before
    the watchdog ends the process itself, so the CLI can print its line and close its log file."""
    global _guard
    if threading.current_thread() is not threading.main_thread() or _guard is not None:
        yield  # signal handlers belong to the main thread; nested use keeps the outer guard
        return
    guard = _Guard(farewell, on_stop)
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    old_wakeup = signal.set_wakeup_fd(guard.write_fd, warn_on_full_buffer=False)
    _guard = guard
    for sig in STOP_SIGNALS:
        if previous[sig] not in (signal.SIG_IGN, None):  # `cmd &` in a script ignores SIGINT: so do we
            signal.signal(sig, _on_signal)
    watchdog = threading.Thread(target=_watch, args=(guard,), name="kostra-stop-watchdog", daemon=True)
    watchdog.start()
    try:
        yield
    finally:
        guard.drain()
        stopping = guard.signum is not None
        guard.done.set()
        for sig, handler in previous.items():
            if handler is not None:  # None: a handler not set from Python, which we did not replace either
                signal.signal(sig, handler)
        signal.set_wakeup_fd(old_wakeup)
        _guard = None
        watchdog.join(timeout=1)
        guard.close()
        if stopping:
            terminate_children()


def _watch(guard: _Guard) -> None:
    terminated = killed = False
    while not guard.done.is_set():
        with contextlib.suppress(OSError, ValueError):
            select.select([guard.read_fd], [], [], 0.1)
        if guard.done.is_set():
            return
        guard.drain()
        if guard.signum is None:
            continue
        elapsed = time.monotonic() - guard.first_at
        if guard.count > 1 or elapsed >= DEADLINE:
            _force_exit(guard)
            return
        if not terminated and elapsed >= GRACE:
            terminated = True
            terminate_children(signal.SIGTERM, wait=0)
        if not killed and elapsed >= GRACE + KILL_AFTER:
            killed = True
            terminate_children(signal.SIGKILL, wait=0)


def _force_exit(guard: _Guard) -> None:
    """The main thread did not finish in time: end the process as a kill would (whole files only)."""
    for hook in list(guard.force_hooks):
        with contextlib.suppress(Exception):
            hook()
    terminate_children(signal.SIGKILL, wait=0)
    stop = Stopped(guard.signum or signal.SIGTERM)
    if guard.farewell is not None:
        with contextlib.suppress(Exception):
            guard.farewell(stop)
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(stop.exit_code)


# ---------------------------------------------------------------- child processes


def _proc_stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = text[text.rfind(")") + 2 :].split()  # the command name may hold spaces and parentheses
    if len(rest) < 2:
        return None
    return int(rest[1]), rest[0]


# Python's own helper processes end by themselves when this process does (they read a pipe from it); killing
# the resource tracker early only makes Python start another and warn about it.
_HELPERS = (b"multiprocessing.resource_tracker", b"multiprocessing.forkserver")


def _is_helper(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(helper in cmdline for helper in _HELPERS)


def descendants(pid: int | None = None) -> list[int]:
    """The live (not zombie) descendants of ``pid`` (default: this process), children first, without Python's
    multiprocessing helpers (see :data:`_HELPERS`)."""
    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        stat = _proc_stat(int(entry))
        if stat is not None and stat[1] != "Z":
            children.setdefault(stat[0], []).append(int(entry))
    out: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        child = todo.pop(0)
        if _is_helper(child):
            continue
        out.append(child)
        todo.extend(children.get(child, []))
    return out


def terminate_children(sig: int = signal.SIGTERM, wait: float = 2.0) -> list[int]:
    """Send ``sig`` to every descendant of this process; wait up to ``wait`` seconds for them to go, then
    SIGKILL the rest. Returns the pids signalled."""
    pids = descendants()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    if not pids or wait <= 0:
        return pids
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not [p for p in pids if _alive(p)]:
            return pids
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    return pids


def _alive(pid: int) -> bool:
    """Running: a zombie has ended (whoever started it collects its exit status, we never do)."""
    stat = _proc_stat(pid)
    return stat is not None and stat[1] != "Z"

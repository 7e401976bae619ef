"""Every command that does work writes its log to a file under the home, as well as to the terminal.

``<home>/logs/<UTC timestamp>-<command>.log`` (``20261201T124103.482Z-run.log``) holds:

- what the terminal shows: every write to ``sys.stdout`` and ``sys.stderr`` (the console's lines, the summary,
  Dagster's console log, dbt's output), colour codes removed; a progress display that redraws itself is
  logged as its last state, not once per redraw;
- the Python logging records: INFO and up of ``pipeline.*`` and ``orchestration.*``, WARNING and up of
  every other logger (Dagster, dbt, urllib3 …), through a :class:`logging.FileHandler` on the root logger.

The terminal shows what it showed without the log: records that would have reached Python's last-resort
handler (WARNING and up, on stderr, message only) still do. Only the newest ``$KOSTRA_LOG_KEEP`` (default 50)
log files of a home are kept.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
import traceback
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

LOG_DIR = "logs"
KEEP_ENV = "KOSTRA_LOG_KEEP"
DEFAULT_KEEP = 50
# The project's own loggers log at INFO; everyone else's records reach the file from WARNING.
OWN_LOGGERS = ("pipeline", "orchestration")
RECORD_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_NAME = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-[a-z0-9][a-z0-9-]*\.log$")
# CSI (colours, cursor moves, erase) and OSC (hyperlinks, titles) sequences.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# What a display that redraws itself writes: cursor up, erase line, carriage return without a newline.
_REDRAW = re.compile(r"\x1b\[\d*[AFK]|\r(?!\n)")


def log_name(command: str, at: datetime | None = None) -> str:
    """``20261201T124103.482Z-catalogue-check.log``: the UTC start and the command (sortable by name)."""
    at = (at or datetime.now(UTC)).astimezone(UTC)
    slug = re.sub(r"[^a-z0-9]+", "-", command.lower()).strip("-") or "kostra"
    return f"{at:%Y%m%dT%H%M%S}.{at.microsecond // 1000:03d}Z-{slug}.log"


def keep_count() -> int:
    raw = os.environ.get(KEEP_ENV, "").strip()
    try:
        return max(1, int(raw)) if raw else DEFAULT_KEEP
    except ValueError:
        return DEFAULT_KEEP


def prune(log_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` log files of ``log_dir`` (only files named like ours)."""
    logs = sorted(p for p in log_dir.iterdir() if _NAME.match(p.name) and p.is_file())
    gone = logs[: max(0, len(logs) - keep)]
    for old in gone:
        old.unlink(missing_ok=True)
    return gone


class _OwnOrWarning(logging.Filter):
    """INFO and up from the project's loggers, WARNING and up from everyone else."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        own = record.name.split(".", 1)[0] in OWN_LOGGERS
        return own and record.levelno >= logging.INFO


class _UtcFormatter(logging.Formatter):
    converter = time.gmtime

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        t = self.converter(record.created)
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(record.msecs):03d}Z"


class _LogFile(logging.FileHandler):
    """The log file: the records' handler, and the sink the terminal streams are copied into."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, mode="x", encoding="utf-8", delay=False)
        self.setFormatter(_UtcFormatter(RECORD_FORMAT))
        self.addFilter(_OwnOrWarning())
        self.setLevel(logging.INFO)
        self._pending_redraw = ""
        self.broken = False
        self.muted = False  # the terminal streams go to the file only (see RunLog.mute)
        self._owner_closing = False

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        self.broken = True  # a full disk must not end the run, nor print on the terminal

    def emit(self, record: logging.LogRecord) -> None:
        if self.broken:
            return
        with self.lock:
            self._write_pending()
            super().emit(record)

    def terminal(self, text: str) -> None:
        """Copy what the terminal was sent (colour codes removed)."""
        if self.broken or not text:
            return
        with self.lock:
            try:
                if _REDRAW.search(text):
                    # A live display: keep only its newest frame, written before the next ordinary line.
                    self._pending_redraw = text
                    return
                self._write_pending()
                self.stream.write(_plain(text))
                self.stream.flush()
            except (OSError, ValueError, AttributeError):  # AttributeError: no stream any more
                self.broken = True

    def _write_pending(self) -> None:
        if self._pending_redraw:
            frame, self._pending_redraw = self._pending_redraw, ""
            lines = [line.rstrip() for line in _plain(frame.replace("\r", "\n")).split("\n")]
            kept = "\n".join(line for line in lines if line)
            if kept:
                self.stream.write(kept + "\n")

    def close(self) -> None:
        """Flush only: Dagster reconfigures logging while a run starts (``logging.config.dictConfig``, which
        closes every handler there is); the log stays open until :meth:`close_for_good`."""
        if not self._owner_closing:
            with suppress(OSError, ValueError, AttributeError):
                self.flush()
            return
        with self.lock:
            if not self.broken and self.stream is not None:
                with suppress(OSError, ValueError):
                    self._write_pending()
        super().close()

    def close_for_good(self) -> None:
        self._owner_closing = True
        self.close()


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


class _Tee:
    """A text stream that writes to ``stream`` and copies into the log file; everything else is ``stream``'s
    (``isatty``, ``fileno``, ``encoding``, ``buffer`` …), so the terminal and rich see the stream they saw."""

    def __init__(self, stream: TextIO, log: _LogFile) -> None:
        self._kostra_stream = stream
        self._kostra_log = log
        self._kostra_local = threading.local()

    def write(self, text: str) -> int:
        n = len(text) if self._kostra_log.muted else self._kostra_stream.write(text)
        local = self._kostra_local
        if not getattr(local, "busy", False):  # the log's own errors must not loop back into it
            local.busy = True
            try:
                self._kostra_log.terminal(text)
            finally:
                local.busy = False
        return n

    def writelines(self, lines) -> None:  # noqa: ANN001
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._kostra_stream.flush()

    def __getattr__(self, name: str):
        return getattr(self._kostra_stream, name)


class _TerminalRecords(logging.Handler):
    """What Python's last-resort handler did while the root logger had no handler: WARNING and up, the
    message only, on the terminal's stderr (not copied into the log file, which has the record itself)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.WARNING)
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._stream.write(self.format(record) + "\n")
            self._stream.flush()
        except Exception:  # noqa: BLE001 - as logging.lastResort does, never fail the caller
            self.handleError(record)


class RunLog:
    """The log of one command: :meth:`start` opens it and copies the terminal into it, :meth:`close` ends it
    and puts the process's streams and loggers back as they were (``main`` may be called several times in one
    process, as the tests do)."""

    def __init__(self, log_dir: Path, command: str, argv: list[str] | None = None) -> None:
        self.log_dir = log_dir
        self.command = command
        self.argv = list(sys.argv[1:] if argv is None else argv)
        self.path: Path | None = None
        self._handler: _LogFile | None = None
        self._saved: dict = {}
        self._started = 0.0

    def start(self) -> RunLog:
        """Open the log file; when it cannot be (a read-only home), the command runs without one."""
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            handler = self._open()
        except OSError:
            return self
        self._handler = handler
        self.path = Path(handler.baseFilename)
        self._started = time.monotonic()
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        handler.terminal(
            f"# kostra {' '.join(self.argv)}\n# started {stamp}, pid {os.getpid()}, cwd {os.getcwd()}\n"
        )
        root = logging.getLogger()
        self._saved = {
            "stdout": sys.stdout,
            "stderr": sys.stderr,
            "root_handlers": list(root.handlers),
            "levels": {name: logging.getLogger(name).level for name in OWN_LOGGERS},
        }
        if not root.handlers:
            # Adding a handler to the root turns Python's last-resort handler off: keep what it printed.
            terminal = _TerminalRecords(sys.stderr)
            root.addHandler(terminal)
            self._saved["terminal_handler"] = terminal
        root.addHandler(handler)
        for name in OWN_LOGGERS:
            logger = logging.getLogger(name)
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)
        sys.stdout = _Tee(sys.stdout, handler)  # type: ignore[assignment]
        sys.stderr = _Tee(sys.stderr, handler)  # type: ignore[assignment]
        with suppress(OSError):
            prune(self.log_dir, keep_count())
        return self

    def _open(self) -> _LogFile:
        name = log_name(self.command)
        for n in range(100):
            candidate = self.log_dir / (name if n == 0 else name.replace(".log", f"-{n}.log"))
            try:
                return _LogFile(candidate)
            except FileExistsError:
                continue
        raise FileExistsError(self.log_dir / name)

    def mute(self, muted: bool = True) -> None:
        """Stop (or go back to) echoing the terminal streams on the terminal; the file still gets them. A
        stopped command mutes what Dagster says about the interrupted step, then prints its one line."""
        if self._handler is not None:
            self._handler.muted = muted

    def note(self, text: str) -> None:
        """Write ``text`` into the log file only (what Python itself will print on the terminal)."""
        if self._handler is not None:
            self._handler.terminal(text)

    def note_traceback(self) -> None:
        """The exception being handled, with its traceback, into the log file only."""
        self.note(traceback.format_exc())

    def close(self, exit_code: int | None = None) -> None:
        handler = self._handler
        if handler is None:
            return
        self._handler = None
        for stream in ("stdout", "stderr"):
            current = getattr(sys, stream)
            if isinstance(current, _Tee) and current._kostra_log is handler:
                with suppress(OSError, ValueError):
                    current.flush()
                setattr(sys, stream, self._saved[stream])
        root = logging.getLogger()
        root.removeHandler(handler)
        terminal = self._saved.get("terminal_handler")
        if terminal is not None:
            root.removeHandler(terminal)
        for name, level in self._saved.get("levels", {}).items():
            logging.getLogger(name).setLevel(level)
        seconds = time.monotonic() - self._started
        handler.terminal(f"# exit {exit_code if exit_code is not None else '?'} after {seconds:.1f} s\n")
        handler.close_for_good()

"""Files written whole or not at all: the landing store's objects, published warehouses, reports and exports.

Each is written to a temporary file beside its final name and renamed over it at the end, so a reader never
sees half a file and a crash leaves the old one. The temporary's name is chosen before the file exists: a stop
signal raises wherever it lands (Ctrl+C between ``tempfile.mkstemp`` creating the file and returning its name
left one behind), and from the name on every exit removes the temporary.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

TEMPORARY = ".{name}.{token}.tmp"  # token: eight random characters


class NotWritable(OSError):
    """The temporary file could not be made beside the target (no such folder, no permission, full disk)."""


def readable_mode(base: int = 0o666) -> int:
    """``base`` less the user's umask: what a plain ``open`` would have given the file."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


@contextmanager
def replacing(
    out: Path, *, mode: int = 0o600, temporary: str = TEMPORARY, companions: Sequence[str] = ()
) -> Iterator[Path]:
    """The path of an empty temporary file beside ``out``; when the block ends it gets ``mode`` and ``out``'s
    name. On any exception (``KeyboardInterrupt`` too) it is removed instead, with the files named by adding
    a suffix of ``companions`` to it (a DuckDB file's ``.wal``), and ``out`` is left as it was."""
    out = Path(out)
    tmp = out.parent / temporary.format(name=out.name, token=secrets.token_hex(4))
    try:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as exc:
            raise NotWritable(exc.errno, exc.strerror or str(exc), str(out)) from None
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, out)
    except BaseException:
        for path in (tmp, *(tmp.with_name(tmp.name + suffix) for suffix in companions)):
            path.unlink(missing_ok=True)
        raise

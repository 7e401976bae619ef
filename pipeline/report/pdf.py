"""HTML to PDF with headless Chromium (Debian's ``chromium``), A4 with the page numbers the CSS sets.

The page size, margins, page numbers ("Side 1 av 9") and the DEMO DATA banner are the HTML's ``@page`` rules,
so the PDF is the same document as the HTML. Chromium's own header and footer (date, file URL) are off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_ENV = "KOSTRA_CHROMIUM"
TIMEOUT_S = 120


class PdfError(RuntimeError):
    """No Chromium, or Chromium could not print; the message says what to install or check."""


def chromium() -> str:
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise PdfError(
            "--format pdf needs headless Chromium: install it (apt-get install chromium) or set KOSTRA_CHROMIUM"
        )
    return path


def html_to_pdf(html: str, out: Path) -> Path:
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="kostra-pdf-") as tmp:
        src = Path(tmp) / "report.html"
        src.write_text(html, encoding="utf-8")
        target = Path(tmp) / "report.pdf"
        args = [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp}/profile",
            "--no-pdf-header-footer",
            f"--print-to-pdf={target}",
            src.as_uri(),
        ]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not finish printing within {TIMEOUT_S} s") from None
        if not target.exists() or target.stat().st_size == 0:
            last = (done.stderr or "").strip().splitlines()[-1:] or ["no output"]
            raise PdfError(f"Chromium printed no PDF (exit {done.returncode}): {last[0]}")
        shutil.move(str(target), out)
    return out

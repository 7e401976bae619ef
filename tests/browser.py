"""Headless Chromium for tests that look at a page as a person would (Debian's chromium, no download).

Tests using it skip when chromium or playwright is missing; CI installs both (.ci/run).
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    return path


@contextmanager
def browser_page(width: int = 1600, height: int = 1000):
    """A Playwright page in Debian's Chromium; ``page.external_requests`` lists requests off this machine."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            external: list[str] = []

            def note(request):
                url = request.url
                if url.startswith(("http://", "https://")) and not url.startswith(
                    ("http://127.0.0.1", "http://localhost")
                ):
                    external.append(url)

            page.on("request", note)
            page.external_requests = external
            yield page
        finally:
            browser.close()

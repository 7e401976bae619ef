"""The Dagster UI's asset graph, rendered in headless Chromium and looked at the way a person would:
the definitions load without errors and every pipeline group is on the page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser import browser_page

pytestmark = pytest.mark.slow

GROUPS = ("ingest", "staging", "marts", "publish")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path_factory.mktemp("dagster_home"))}
    webserver_bin = Path(sys.executable).with_name("dagster-webserver")
    proc = subprocess.Popen(
        [str(webserver_bin), "-m", "orchestration.definitions", "-h", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"dagster-webserver exited: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail("dagster-webserver did not start within 90 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_asset_graph_shows_every_group_and_no_error(webserver, tmp_path):
    with browser_page() as page:
        page.goto(f"{webserver}/asset-groups", wait_until="networkidle")
        skip = page.get_by_role("button", name="Skip")
        if skip.count():
            skip.first.click()  # Dagster's first-visit newsletter dialog
        for group in GROUPS:
            page.get_by_text(group, exact=True).first.wait_for(timeout=30_000)
        page.wait_for_timeout(1500)
        shot = tmp_path / "asset-graph.png"
        page.screenshot(path=str(shot))
        text = page.inner_text("body")
        assert shot.stat().st_size > 20_000
        for bad in (
            "Error loading",
            "could not be loaded",
            "DagsterInvalidDefinitionError",
            "Unexpected GraphQL error",
        ):
            assert bad not in text
        for group in GROUPS:
            assert group in text
        if os.environ.get("KOSTRA_SCREENSHOT_DIR"):
            Path(os.environ["KOSTRA_SCREENSHOT_DIR"], "dagster-asset-graph.png").write_bytes(
                shot.read_bytes()
            )

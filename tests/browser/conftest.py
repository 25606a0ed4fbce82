from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage"]
OUTPUT_DIR = Path(__file__).resolve().parents[2] / "test-results" / "browser"


def chromium_path() -> str:
    for candidate in (os.environ.get("AGNES_CHROMIUM"), *CHROMIUM_CANDIDATES):
        if candidate and shutil.which(candidate):
            return candidate
    pytest.fail("Debian's chromium is not installed (apt-get install -y chromium); the browser tests drive "
                "it headless and never download a browser", pytrace=False)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def output_dir(request: pytest.FixtureRequest) -> Path:
    """Where a browser test leaves its screenshots (kept after the run)."""
    path = OUTPUT_DIR / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path


# Browser tests use the live server subprocess, not pytest-jupyter's in-process server.
# Its autouse loop fixtures would grab (and try to close) the event loop Playwright's sync
# API runs on this thread, so they are replaced here by inert ones.
@pytest.fixture
def jp_asyncio_loop() -> None:
    return None


@pytest.fixture
def jp_server_cleanup() -> None:
    return None

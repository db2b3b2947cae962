"""Fixtures for the status-page tests: a running gateway with four simulated modems (`status`)
and Debian's Chromium driven headless by Playwright (`browser`).

Chromium is the system package (`apt-get install chromium`, which `make test` installs); the
Playwright driver comes from PyPI; `playwright install` (a browser download) is never needed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.webrig import StatusRig

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str:
    """Debian's Chromium ($CHROMIUM overrides). Missing is a setup error, not a skip."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("no chromium: install it (apt-get install chromium; `make test` does)")


@pytest.fixture
async def status(tmp_path: Path) -> AsyncIterator[StatusRig]:
    async with StatusRig.running(tmp_path, 4) as rig:
        yield rig


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()

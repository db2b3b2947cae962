"""Fixtures for the HTTP API tests: a running gateway (`api`) and a webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.api.apirig import ApiRig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[ApiRig]:
    r = ApiRig(tmp_path)
    try:
        yield r
    finally:
        await r.close()


@pytest.fixture
async def api(rig: ApiRig) -> ApiRig:
    """The rig started with defaults (2 modems, generous rate limit)."""
    return await rig.start()

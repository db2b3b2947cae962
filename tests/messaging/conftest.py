"""Fixtures for the messaging tests: a real store in tmp_path with `Messaging` on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.gateway.gwhelpers import FakeClock
from tests.messaging.msgrig import MessagingRig


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def rig(tmp_path: Path, clock: FakeClock) -> AsyncIterator[MessagingRig]:
    r = MessagingRig(tmp_path, clock)
    try:
        yield r
    finally:
        await r.close()

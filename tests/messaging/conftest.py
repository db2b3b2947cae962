"""Fixtures for the messaging tests: a real store in tmp_path with `Messaging` on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.messaging.msgrig import Clock, MessagingRig


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def rig(tmp_path: Path, clock: Clock) -> AsyncIterator[MessagingRig]:
    r = MessagingRig(tmp_path, clock)
    try:
        yield r
    finally:
        await r.close()

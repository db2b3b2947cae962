"""Suite-wide guards: a test that leaves a task running behind it fails (STYLE.md habit 9).
And `receiver`, the webhook receiver the API and status-page tests share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.api.apirig import Receiver


@pytest.fixture(autouse=True)
async def _no_lingering_tasks() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    for _ in range(5):  # let cancelled tasks finish unwinding
        await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
    if left:
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        pytest.fail(f"test left {len(left)} task(s) running: {[t.get_name() for t in left]}")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.close()

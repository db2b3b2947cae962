"""Stopping the background tasks each service keeps (`close()` of the pool, janitor, webhooks,
watchdog...): one way, so none forgets to wait for its task to actually end."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` (None: nothing to stop) and wait until it has finished, so nothing it
    holds is used after its owner's `close()` returns. A task that had already failed raises
    its error here."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


__all__ = ["cancel_and_wait"]

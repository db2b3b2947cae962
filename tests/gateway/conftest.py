"""Fixtures for the gateway core: a real SQLite store in tmp_path and a clock tests can move."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.config import SchedulerConfig
from gateway.scheduler import Scheduler
from gateway.store import SqliteStore, StoreOptions
from tests.gateway.gwhelpers import FakeClock, StoreFactory


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "smsgw.db"


@pytest.fixture
async def store(db_path: Path, clock: FakeClock) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(db_path, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def open_store(db_path: Path, clock: FakeClock) -> AsyncIterator[StoreFactory]:
    """Open (and reopen) stores on the same file; all are closed at the end."""
    opened: list[SqliteStore] = []

    async def factory(**kwargs: Any) -> SqliteStore:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("options", StoreOptions())
        s = await SqliteStore.open(db_path, **kwargs)
        opened.append(s)
        return s

    yield factory
    for s in opened:
        await s.close()


@pytest.fixture
async def scheduler(store: SqliteStore, clock: FakeClock) -> AsyncIterator[Scheduler]:
    sched = Scheduler(store, SchedulerConfig(), clock=clock)
    try:
        yield sched
    finally:
        await sched.close()

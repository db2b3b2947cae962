"""Fixtures for the simulator's tests: a pool on real ptys, pyserial clients, in-process links."""

# ruff: noqa: E402  (the sys.path repair below must run before `sim`/`drivers` are imported)

from __future__ import annotations

import sys
from pathlib import Path

# tests/conftest.py puts tests/ on sys.path, where tests/sim and tests/drivers would shadow the
# real packages as namespace packages; the repository root first keeps the imports right.
# (The lasting fix is `pythonpath = ["."]` in pyproject's pytest settings.)
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from simclient import FAST, SerialClient, connect

from sim.pool import SimPool


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[SimPool]:
    async with SimPool(2, tmp_path / "dev", **FAST) as p:
        yield p


@pytest.fixture
async def open_client() -> AsyncIterator[Callable[[str], SerialClient]]:
    clients: list[SerialClient] = []

    def opener(path: str) -> SerialClient:
        c = SerialClient(path)
        clients.append(c)
        return c

    yield opener
    for c in clients:
        c.close()


@pytest.fixture
async def client(pool: SimPool,
                 open_client: Callable[[str], SerialClient]) -> SerialClient:
    c = open_client(pool.paths[0])
    await c.command("ATE0")
    await c.command("AT+CMEE=1")
    c.drain()
    return c


@pytest.fixture
async def link_pool(tmp_path: Path) -> AsyncIterator[SimPool]:
    async with SimPool(3, tmp_path / "dev", ptys=False, **FAST) as p:
        yield p


@pytest.fixture
def link_connect() -> Callable[..., Any]:
    return connect

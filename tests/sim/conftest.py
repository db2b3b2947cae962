"""Fixtures for the simulator's tests: a pool on real ptys, pyserial clients, in-process links."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from sim.pool import SimPool
from tests.sim.simclient import FAST, SerialClient, connect


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
    connector: Callable[..., Any] = connect
    return connector

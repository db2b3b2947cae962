"""One SQLite connection on aiosqlite's worker thread, driven one unit of work at a time.

Every aiosqlite call is a round trip to its thread (about 60-90 us here). A group commit of a
few hundred operations, each a handful of statements, would spend its time on those trips, so
the store hands the thread a whole synchronous unit of work (a function of the `sqlite3`
connection) and pays one trip per unit. aiosqlite stays the only owner of threads, as the
architecture asks; `run` relies on its `_execute`, the method its own public calls are built on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar, cast
from urllib.parse import quote

import aiosqlite

T = TypeVar("T")

UnitOfWork = Callable[[sqlite3.Connection], T]


def _pragma(statement: str) -> UnitOfWork[list[object]]:
    def unit(conn: sqlite3.Connection) -> list[object]:
        return list(conn.execute(statement).fetchall())

    return unit


class SqliteThread:
    __slots__ = ("_conn", "_raw", "name")

    def __init__(self, conn: aiosqlite.Connection, raw: sqlite3.Connection, name: str) -> None:
        self._conn = conn
        self._raw = raw
        self.name = name

    @classmethod
    async def open(
        cls,
        path: Path | str,
        *,
        name: str,
        readonly: bool = False,
        pragmas: tuple[str, ...] = (),
    ) -> SqliteThread:
        if readonly:
            target, uri = f"file:{quote(str(path))}?mode=ro", True
        else:
            target, uri = str(path), False
        # isolation_level=None: the store issues BEGIN/COMMIT itself (explicit transactions).
        conn = await aiosqlite.connect(target, isolation_level=None, uri=uri)
        if not callable(getattr(conn, "_execute", None)) or getattr(conn, "_conn", None) is None:
            await conn.close()
            raise RuntimeError(
                f"aiosqlite {getattr(aiosqlite, '__version__', '?')} has no Connection._execute:"
                " install a version pyproject.toml allows")
        raw = conn._conn
        thread = cls(conn, raw, name)
        try:
            for pragma in pragmas:
                await thread.run(_pragma(pragma))
        except BaseException:
            await conn.close()
            raise
        return thread

    async def run(self, fn: UnitOfWork[T]) -> T:
        """Run `fn(connection)` on the connection's thread and return its result."""
        execute = cast(Callable[[Callable[[], T]], Awaitable[T]], self._conn._execute)
        raw = self._raw
        return await execute(lambda: fn(raw))

    async def close(self) -> None:
        await self._conn.close()

"""What the messaging modules share about the store: the unit runner, ids, times, JSON."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from gateway.store.ids import IdGenerator
from gateway.store.rows import from_ms, to_ms
from gateway.store.sqlite_common import CHUNK, chunks, marks

T = TypeVar("T")
UnitOfWork = Callable[[sqlite3.Connection], T]
Clock = Callable[[], datetime]

# Metadata key on outbound messages the messaging layer made (campaign, template, kind,
# thread); `smsgw:` keys are the gateway's own and never shown to API clients or webhooks.
META = "smsgw:messaging"
SYSTEM_KEY = "smsgw:messaging"  # the api_key/sender of messages the gateway sends itself


@runtime_checkable
class Runner(Protocol):
    """`SqliteStore` offers this to modules with tables of their own."""

    async def run_in_writer(self, fn: UnitOfWork[T]) -> T: ...

    async def run_in_reader(self, fn: UnitOfWork[T]) -> T: ...

    def read_inline(self, fn: UnitOfWork[T]) -> T:
        """A bounded point look-up on the event loop's thread (`SqliteStore.read_inline`)."""
        ...


def utcnow() -> datetime:
    return datetime.now(UTC)


_IDS = IdGenerator()


def new_id(prefix: str) -> str:
    return prefix + _IDS.new()


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def loads(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


__all__ = ["CHUNK", "META", "SYSTEM_KEY", "Clock", "Runner", "UnitOfWork", "chunks", "dumps",
           "from_ms", "loads", "marks", "new_id", "to_ms", "utcnow"]

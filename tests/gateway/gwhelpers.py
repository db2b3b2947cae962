"""Helpers shared by the gateway tests ."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from gateway.scheduler import ModemInfo
from gateway.store import Lane, NewMessage, SqliteStore, StoreOptions


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 3, 10, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def msg(
    to: str = "+447911123456",
    text: str = "hello",
    *,
    segments: int = 1,
    lane: Lane = Lane.NORMAL,
    sender: str = "app",
    **kwargs: Any,
) -> NewMessage:
    return NewMessage(
        to=to, text=text, encoding="gsm7", segments=segments, lane=lane, sender=sender, **kwargs
    )


def modem(name: str, **kwargs: Any) -> ModemInfo:
    return ModemInfo(modem_id=name, **kwargs)


class StoreFactory(Protocol):
    """`open_store`: `SqliteStore.open` on the test's file, with the test's clock and default
    `StoreOptions` unless given."""

    def __call__(
        self,
        *,
        options: StoreOptions | None = ...,
        clock: Callable[[], datetime] = ...,
        readers: int = ...,
        max_batch: int = ...,
    ) -> Awaitable[SqliteStore]: ...

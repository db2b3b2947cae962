"""Helpers shared by the SQLite units of work."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import TypeVar

from .writer_state import WriterState

T = TypeVar("T")
CHUNK = 500  # SQLite host parameters per IN (...) list


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def marks(n: int) -> str:
    """The `?, ?, ...` of an IN (...) list of `n` values."""
    return ",".join("?" * n)


def transition(
    conn: sqlite3.Connection,
    state: WriterState,
    message_seq: int,
    from_status: str | None,
    to_status: str,
    *,
    at_ms: int,
    modem_id: str | None = None,
    error_code: str | None = None,
    error_class: str | None = None,
    detail: str | None = None,
) -> None:
    cur = conn.execute(
        "INSERT INTO transitions (message_seq, from_status, to_status, at, modem_id, error_code,"
        " error_class, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (message_seq, from_status, to_status, at_ms, modem_id, error_code, error_class, detail),
    )
    if cur.lastrowid is not None:
        state.max_transition_id = max(state.max_transition_id, cur.lastrowid)

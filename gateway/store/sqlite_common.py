"""Helpers shared by the SQLite units of work."""

from __future__ import annotations

import sqlite3

from .writer_state import WriterState


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

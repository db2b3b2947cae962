"""The health tables (`0003_health.sql`): samples, alerts and balances, plus the few reads of
the shared tables the monitor needs (the transitions cursor, the inbound feed, queue depth per
lane and pool, SIM usage today). Plain functions of a `sqlite3` connection, run by the store's
writer or a reader (`run_in_writer` / `run_in_reader`): one trip to the database thread each.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.store.models import InboundMessage
from gateway.store.rows import from_ms, opt_dt, to_ms
from gateway.store.sqlite_inbound import INBOUND_COLUMNS, inbound_from_row

from .alerts import Alert, AlertChange, AlertKind


@dataclass(frozen=True, slots=True)
class Sample:
    modem_id: str
    at: datetime
    state: str
    sim_state: str | None
    registration: int | None
    operator: str | None
    signal_dbm: int | None
    storage_used: int | None
    storage_total: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(timespec="seconds"),
            "state": self.state,
            "sim_state": self.sim_state,
            "registration": self.registration,
            "operator": self.operator,
            "signal_dbm": self.signal_dbm,
            "storage_used": self.storage_used,
            "storage_total": self.storage_total,
        }


@dataclass(frozen=True, slots=True)
class BalanceRecord:
    modem_id: str
    iccid: str | None
    at: datetime
    code: str
    amount: Decimal | None
    currency: str | None
    answer: str | None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "modem_id": self.modem_id,
            "at": self.at.isoformat(timespec="seconds"),
            "code": self.code,
            "amount": None if self.amount is None else str(self.amount),
            "currency": self.currency,
            "answer": self.answer,
            "error": self.error,
        }


_SAMPLE_COLUMNS = (
    "modem_id, at, state, sim_state, registration, operator, signal_dbm, storage_used,"
    " storage_total"
)
_BALANCE_COLUMNS = "modem_id, iccid, at, code, amount, currency, answer, error"


# --- writes ------------------------------------------------------------------------------------


def record(conn: sqlite3.Connection, samples: Sequence[Sample], changes: Sequence[AlertChange]
           ) -> None:
    conn.executemany(
        f"INSERT INTO health_samples ({_SAMPLE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(s.modem_id, to_ms(s.at), s.state, s.sim_state, s.registration, s.operator,
          s.signal_dbm, s.storage_used, s.storage_total) for s in samples],
    )
    for change in changes:
        alert = change.alert
        if change.raised:
            conn.execute(
                "INSERT OR IGNORE INTO health_alerts (modem_id, kind, raised_at, value,"
                " threshold, detail) VALUES (?, ?, ?, ?, ?, ?)",
                (alert.modem_id, alert.kind.value, to_ms(alert.raised_at), alert.value,
                 alert.threshold, alert.detail),
            )
        else:
            conn.execute(
                "UPDATE health_alerts SET cleared_at = ? WHERE modem_id = ? AND kind = ?"
                " AND cleared_at IS NULL",
                (to_ms(change.at), alert.modem_id, alert.kind.value),
            )


def insert_balance(conn: sqlite3.Connection, b: BalanceRecord) -> None:
    conn.execute(
        f"INSERT INTO sim_balances ({_BALANCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (b.modem_id, b.iccid, to_ms(b.at), b.code, None if b.amount is None else str(b.amount),
         b.currency, b.answer, b.error),
    )


def prune(conn: sqlite3.Connection, before: datetime) -> dict[str, int]:
    """Forget samples, recovered alerts and balance answers older than `before` (keeping each
    modem's latest balance answer and latest amount, however old)."""
    ms = to_ms(before)
    return {
        "samples": conn.execute("DELETE FROM health_samples WHERE at < ?", (ms,)).rowcount,
        "alerts": conn.execute(
            "DELETE FROM health_alerts WHERE cleared_at IS NOT NULL AND cleared_at < ?", (ms,)
        ).rowcount,
        "balances": conn.execute(
            "DELETE FROM sim_balances WHERE at < ? AND id NOT IN ("
            " SELECT max(id) FROM sim_balances GROUP BY modem_id"
            " UNION SELECT max(id) FROM sim_balances WHERE amount IS NOT NULL GROUP BY modem_id)",
            (ms,),
        ).rowcount,
    }


# --- reads of our tables ---------------------------------------------------------------------


def open_alerts(conn: sqlite3.Connection) -> list[Alert]:
    out = []
    for modem_id, kind, raised_at, value, threshold, detail in conn.execute(
        "SELECT modem_id, kind, raised_at, value, threshold, detail FROM health_alerts"
        " WHERE cleared_at IS NULL ORDER BY id"
    ):
        try:
            out.append(Alert(modem_id, AlertKind(kind), from_ms(raised_at), value, threshold,
                             detail))
        except ValueError:
            continue  # a kind this version no longer has
    return out


def signal_since(conn: sqlite3.Connection, since: datetime) -> list[tuple[str, datetime, int]]:
    return [
        (modem_id, from_ms(at), int(dbm))
        for modem_id, at, dbm in conn.execute(
            "SELECT modem_id, at, signal_dbm FROM health_samples WHERE at >= ?"
            " AND signal_dbm IS NOT NULL ORDER BY at",
            (to_ms(since),),
        )
    ]


def samples(conn: sqlite3.Connection, modem_id: str, since: datetime, limit: int
            ) -> list[Sample]:
    rows = conn.execute(
        f"SELECT {_SAMPLE_COLUMNS} FROM health_samples WHERE modem_id = ? AND at >= ?"
        " ORDER BY at DESC LIMIT ?",
        (modem_id, to_ms(since), limit),
    ).fetchall()
    return [Sample(r[0], from_ms(r[1]), *r[2:]) for r in reversed(rows)]


def _balance(row: tuple[Any, ...]) -> BalanceRecord:
    amount: Decimal | None = None
    if row[4] is not None:
        try:
            amount = Decimal(row[4])
        except InvalidOperation:
            amount = None
    at = opt_dt(row[2])
    assert at is not None
    return BalanceRecord(row[0], row[1], at, row[3], amount, row[5], row[6], row[7])


def latest_balances(conn: sqlite3.Connection) -> tuple[list[BalanceRecord], list[BalanceRecord]]:
    """(each modem's latest answer, each modem's latest answer that had an amount)."""
    latest = conn.execute(
        f"SELECT {_BALANCE_COLUMNS} FROM sim_balances WHERE id IN"
        " (SELECT max(id) FROM sim_balances GROUP BY modem_id)"
    ).fetchall()
    amounts = conn.execute(
        f"SELECT {_BALANCE_COLUMNS} FROM sim_balances WHERE id IN"
        " (SELECT max(id) FROM sim_balances WHERE amount IS NOT NULL GROUP BY modem_id)"
    ).fetchall()
    return [_balance(r) for r in latest], [_balance(r) for r in amounts]


# --- reads of the shared tables ----------------------------------------------------------------


def transition_cursor(conn: sqlite3.Connection, since: datetime, most: int) -> int:
    """The cursor (`transitions_since(cursor)`) that starts at the first transition at or after
    `since`, but leaves at most `most` to read: a binary search over ids, which grow with
    time, in a few index probes."""
    since_ms = to_ms(since)
    low, high = conn.execute("SELECT min(id), max(id) FROM transitions").fetchone()
    if low is None:
        return 0
    low = max(low, high - most + 1)
    high += 1
    while low < high:
        middle = (low + high) // 2
        found = conn.execute(
            "SELECT id, at FROM transitions WHERE id >= ? ORDER BY id LIMIT 1", (middle,)
        ).fetchone()
        if found[1] >= since_ms:
            high = middle
        else:
            low = found[0] + 1
    return int(low) - 1


def recent_inbound(conn: sqlite3.Connection, limit: int) -> list[tuple[int, InboundMessage]]:
    """The newest complete inbound messages, oldest first, with their feed position."""
    rows = conn.execute(
        f"SELECT {INBOUND_COLUMNS} FROM inbound_messages ORDER BY seq DESC LIMIT ?", (limit,)
    ).fetchall()
    return [(int(r[0]), inbound_from_row(r)) for r in reversed(rows)]


def inbound_after(conn: sqlite3.Connection, seq: int, limit: int
                  ) -> list[tuple[int, InboundMessage]]:
    rows = conn.execute(
        f"SELECT {INBOUND_COLUMNS} FROM inbound_messages WHERE seq > ? ORDER BY seq LIMIT ?",
        (seq, limit),
    ).fetchall()
    return [(int(r[0]), inbound_from_row(r)) for r in rows]


@dataclass(frozen=True, slots=True)
class QueueFigures:
    by_lane_pool: dict[tuple[int, str], int]  # (lane rank, pool) -> ready messages
    sent_today: dict[str, int]  # modem id -> messages claimed today (the per-day limit's count)


def queue_figures(conn: sqlite3.Connection, day: str) -> QueueFigures:
    by_lane_pool = {
        (int(lane), str(pool)): int(count)
        for lane, pool, count in conn.execute(
            "SELECT lane, pool, count(*) FROM messages WHERE status = 'queued'"
            " AND held_until IS NULL GROUP BY lane, pool"
        )
    }
    sent_today = {
        str(modem_id): int(count)
        for modem_id, count in conn.execute(
            "SELECT modem_id, count FROM sim_usage WHERE period = ?", (f"d:{day}",)
        )
    }
    return QueueFigures(by_lane_pool, sent_today)


__all__ = [
    "BalanceRecord",
    "QueueFigures",
    "Sample",
    "inbound_after",
    "insert_balance",
    "latest_balances",
    "open_alerts",
    "prune",
    "queue_figures",
    "recent_inbound",
    "record",
    "samples",
    "signal_since",
    "transition_cursor",
]

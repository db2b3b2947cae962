"""Read-side queries (run on a reader connection) and small bookkeeping writes."""

from __future__ import annotations

import sqlite3
from typing import Any

from .ids import id_floor
from .models import (
    Lane,
    LearnedReachability,
    MessageDetail,
    MessagePage,
    MessageQuery,
    Reachability,
    SimUsage,
    Transition,
)
from .rows import (
    MESSAGE_COLUMNS,
    PART_COLUMNS,
    TRANSITION_COLUMNS,
    from_ms,
    message_from_row,
    opt_dt,
    part_from_row,
    to_ms,
    transition_from_row,
)


def message_detail(conn: sqlite3.Connection, message_id: str) -> MessageDetail | None:
    row = conn.execute(
        f"SELECT {MESSAGE_COLUMNS}, concat_ref FROM messages WHERE id = ?", (message_id,)
    ).fetchone()
    if row is None:
        return None
    seq, concat_ref = row[0], row[-1]
    message = message_from_row(row[:-1])
    parts = tuple(
        part_from_row(message_id, concat_ref, r)
        for r in conn.execute(
            f"SELECT {PART_COLUMNS} FROM parts WHERE message_seq = ? ORDER BY seq", (seq,)
        ).fetchall()
    )
    history = tuple(
        transition_from_row(r)
        for r in conn.execute(
            f"SELECT {TRANSITION_COLUMNS} FROM transitions t JOIN messages m"
            " ON m.seq = t.message_seq WHERE t.message_seq = ? ORDER BY t.id",
            (seq,),
        ).fetchall()
    )
    return MessageDetail(message, parts, history)


def list_messages(conn: sqlite3.Connection, query: MessageQuery) -> MessagePage:
    """Newest first; `next_cursor` continues with older messages."""
    where: list[str] = []
    params: list[Any] = []
    if query.status is not None:
        where.append("status = ?")
        params.append(query.status.value)
    if query.to is not None:
        where.append("to_number = ?")
        params.append(query.to)
    if query.since is not None:
        where.append("id >= ?")
        params.append(id_floor(query.since))
    if query.until is not None:
        where.append("id < ?")
        params.append(id_floor(query.until))
    if query.cursor is not None:
        where.append("id < ?")
        params.append(query.cursor)
    sql = f"SELECT {MESSAGE_COLUMNS} FROM messages"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq DESC LIMIT ?"
    params.append(query.limit + 1)
    rows = conn.execute(sql, params).fetchall()
    messages = tuple(message_from_row(r) for r in rows[: query.limit])
    next_cursor = messages[-1].id if len(rows) > query.limit and messages else None
    return MessagePage(messages, next_cursor)


def transitions_since(conn: sqlite3.Connection, after_id: int, limit: int) -> list[Transition]:
    return [
        transition_from_row(r)
        for r in conn.execute(
            f"SELECT {TRANSITION_COLUMNS} FROM transitions t JOIN messages m"
            " ON m.seq = t.message_seq WHERE t.id > ? ORDER BY t.id LIMIT ?",
            (after_id, limit),
        ).fetchall()
    ]


def queue_depth(conn: sqlite3.Connection) -> dict[Lane, int]:
    depth = dict.fromkeys(Lane, 0)
    for rank in range(len(depth)):
        row = conn.execute(
            "SELECT count(*) FROM messages INDEXED BY messages_ready"
            " WHERE status = 'queued' AND held_until IS NULL AND lane = ?",
            (rank,),
        ).fetchone()
        depth[Lane.from_rank(rank)] = int(row[0])
    return depth


def counts_by_status(conn: sqlite3.Connection) -> dict[str, int]:
    return {
        str(status): int(count)
        for status, count in conn.execute(
            "SELECT status, count(*) FROM messages GROUP BY status"
        ).fetchall()
    }


def ready_pools(conn: sqlite3.Connection) -> set[str]:
    """Distinct pools that hold ready messages, one index probe per (lane, pool)."""
    pools: set[str] = set()
    for lane in range(len(Lane)):
        after: str | None = None
        while True:
            if after is None:
                row = conn.execute(
                    "SELECT pool FROM messages WHERE status = 'queued' AND held_until IS NULL"
                    " AND lane = ? ORDER BY pool LIMIT 1",
                    (lane,),
                ).fetchone()
            else:
                row = conn.execute(
                    "SELECT pool FROM messages WHERE status = 'queued' AND held_until IS NULL"
                    " AND lane = ? AND pool > ? ORDER BY pool LIMIT 1",
                    (lane, after),
                ).fetchone()
            if row is None:
                break
            after = str(row[0])
            pools.add(after)
    return pools


def reachability(conn: sqlite3.Connection, number: str, now_ms: int) -> LearnedReachability | None:
    row = conn.execute(
        "SELECT state, reason, updated_at, expires_at FROM reachability WHERE number = ?",
        (number,),
    ).fetchone()
    if row is None or (row[3] is not None and row[3] <= now_ms):
        return None
    return LearnedReachability(
        number, Reachability(row[0]), row[1], from_ms(row[2]), opt_dt(row[3])
    )


def sim_usage(conn: sqlite3.Connection, modem_id: str, day: str, month: str) -> SimUsage:
    row = conn.execute(
        "SELECT count FROM sim_usage WHERE modem_id = ? AND period = ?", (modem_id, f"d:{day}")
    ).fetchone()
    recipients = frozenset(
        r[0]
        for r in conn.execute(
            "SELECT number FROM sim_recipients WHERE modem_id = ? AND month = ?",
            (modem_id, month),
        ).fetchall()
    )
    return SimUsage(modem_id, day, int(row[0]) if row else 0, month, recipients)


def sticky_modem(conn: sqlite3.Connection, number: str, since_ms: int) -> str | None:
    row = conn.execute(
        "SELECT modem_id FROM conversations WHERE number = ? AND last_at >= ?", (number, since_ms)
    ).fetchone()
    return None if row is None else str(row[0])


def prune(
    conn: sqlite3.Connection,
    *,
    orphans_before: int,
    months_before: str,
    conversations_before: int | None,
    reachability_before: int,
) -> dict[str, int]:
    counts = {
        "orphan_reports": conn.execute(
            "DELETE FROM orphan_reports WHERE received_at < ?", (orphans_before,)
        ).rowcount,
        "sim_recipients": conn.execute(
            "DELETE FROM sim_recipients WHERE month < ?", (months_before,)
        ).rowcount,
        "sim_usage": conn.execute(
            "DELETE FROM sim_usage WHERE period < ? AND period LIKE 'd:%'",
            (f"d:{months_before}",),
        ).rowcount,
        "reachability": conn.execute(
            "DELETE FROM reachability WHERE expires_at IS NOT NULL AND expires_at < ?",
            (reachability_before,),
        ).rowcount,
    }
    if conversations_before is not None:
        counts["conversations"] = conn.execute(
            "DELETE FROM conversations WHERE last_at < ?", (conversations_before,)
        ).rowcount
    return counts


__all__ = [
    "counts_by_status",
    "list_messages",
    "message_detail",
    "prune",
    "queue_depth",
    "reachability",
    "ready_pools",
    "sim_usage",
    "sticky_modem",
    "to_ms",
    "transitions_since",
]

"""Conversations: one thread per (customer number, SIM), and the agent inbox.

A thread keeps only its state (open/closed, assignee, flagged for an agent); its messages are
the store's own: what the number sent to that SIM (`inbound_messages`) and what the gateway
sent it through that SIM (`messages`, plus replies still queued for the thread). Nothing is
copied, so the thread can never disagree with the message log.

Replies go out through the SIM the customer wrote to: before an agent's (or a rule's) reply is
queued, the number's sticky SIM is set to the thread's SIM, and the store pins the message to
it (other SIMs take over only while that one is unavailable).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .db import META, Runner, from_ms, new_id, to_ms


@dataclass(frozen=True, slots=True)
class Thread:
    id: str
    number: str
    modem_id: str
    status: str
    assignee: str | None
    needs_agent: bool
    flag_reason: str | None
    opened_at: datetime
    updated_at: datetime
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None

    def json(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return None if at is None else at.isoformat(timespec="milliseconds")

        return {"id": self.id, "number": self.number, "modem_id": self.modem_id,
                "status": self.status, "assignee": self.assignee,
                "needs_agent": self.needs_agent, "flag_reason": self.flag_reason,
                "opened_at": iso(self.opened_at), "updated_at": iso(self.updated_at),
                "last_inbound_at": iso(self.last_inbound_at),
                "last_outbound_at": iso(self.last_outbound_at)}


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    direction: str  # in | out
    id: str
    text: str
    at: datetime
    status: str | None

    def json(self) -> dict[str, Any]:
        return {"direction": self.direction, "id": self.id, "text": self.text,
                "at": self.at.isoformat(timespec="milliseconds"), "status": self.status}


_COLUMNS = ("id, number, modem_id, status, assignee, needs_agent, flag_reason, opened_at,"
            " updated_at, last_inbound_at, last_outbound_at")


def _thread(row: tuple[Any, ...]) -> Thread:
    return Thread(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6],
                  from_ms(row[7]), from_ms(row[8]),
                  None if row[9] is None else from_ms(row[9]),
                  None if row[10] is None else from_ms(row[10]))


def get_thread(conn: sqlite3.Connection, thread_id: str) -> Thread | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM msg_threads WHERE id = ?",
                       (thread_id,)).fetchone()
    return None if row is None else _thread(row)


def upsert_inbound(conn: sqlite3.Connection, number: str, modem_id: str, now_ms: int,
                   handoff: str | None = None) -> str:
    """Thread an inbound message: open (or reopen) the thread; flag it when `handoff`."""
    row = conn.execute("SELECT id FROM msg_threads WHERE number = ? AND modem_id = ?",
                       (number, modem_id)).fetchone()
    if row is None:
        thread_id = new_id("thr_")
        conn.execute(
            "INSERT INTO msg_threads (id, number, modem_id, status, opened_at, updated_at,"
            " last_inbound_at) VALUES (?, ?, ?, 'open', ?, ?, ?)",
            (thread_id, number, modem_id, now_ms, now_ms, now_ms))
    else:
        thread_id = str(row[0])
        conn.execute(
            "UPDATE msg_threads SET opened_at = CASE WHEN status = 'closed' THEN ? ELSE"
            " opened_at END, status = 'open', updated_at = ?, last_inbound_at = ? WHERE id = ?",
            (now_ms, now_ms, now_ms, thread_id))
    if handoff is not None:
        conn.execute("UPDATE msg_threads SET needs_agent = 1, flag_reason = ? WHERE id = ?",
                     (handoff[:200], thread_id))
    return thread_id


def pin_sim(conn: sqlite3.Connection, number: str, modem_id: str, now_ms: int) -> None:
    """Make `modem_id` the number's sticky SIM, so the next message to it is pinned there.

    This writes the store's sticky-SIM table (`conversations`); it stands in for a
    `NewMessage.pin_modem` the store does not offer yet."""
    conn.execute(
        "INSERT INTO conversations (number, modem_id, last_at) VALUES (?, ?, ?)"
        " ON CONFLICT (number) DO UPDATE SET modem_id = excluded.modem_id,"
        " last_at = excluded.last_at", (number, modem_id, now_ms))


def thread_messages(conn: sqlite3.Connection, thread: Thread, limit: int = 200
                    ) -> list[ThreadMessage]:
    rows = conn.execute(
        "SELECT * FROM ("
        " SELECT 'in', id, text, received_at, NULL FROM inbound_messages"
        "  WHERE sender = ? AND modem_id = ?"
        " UNION ALL"
        " SELECT 'out', id, text, created_at, status FROM messages WHERE to_number = ?"
        "  AND (modem_id = ? OR (modem_id IS NULL AND instr(coalesce(metadata, ''), ?) > 0))"
        ") ORDER BY 4 DESC, 2 DESC LIMIT ?",
        (thread.number, thread.modem_id, thread.number, thread.modem_id, thread.id, limit),
    ).fetchall()
    return [ThreadMessage(r[0], r[1], r[2], from_ms(r[3]), r[4]) for r in reversed(rows)]


class Conversations:
    def __init__(self, runner: Runner, clock: Callable[[], datetime]) -> None:
        self._runner = runner
        self._clock = clock

    def _now_ms(self) -> int:
        return to_ms(self._clock())

    async def get(self, thread_id: str) -> Thread | None:
        return await self._runner.run_in_reader(lambda c: get_thread(c, thread_id))

    async def inbox(self, *, status: str | None = "open", assignee: str | None = None,
                   needs_agent: bool | None = None, number: str | None = None,
                   limit: int = 100) -> list[Thread]:
        def unit(conn: sqlite3.Connection) -> list[Thread]:
            where, params = ["1 = 1"], []
            if status:
                where.append("status = ?")
                params.append(status)
            if assignee is not None:
                where.append("assignee = ?" if assignee else "assignee IS NULL")
                if assignee:
                    params.append(assignee)
            if needs_agent is not None:
                where.append("needs_agent = ?")
                params.append(str(int(needs_agent)))
            if number:
                where.append("number = ?")
                params.append(number)
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM msg_threads WHERE {' AND '.join(where)}"
                " ORDER BY needs_agent DESC, updated_at DESC LIMIT ?", (*params, limit)
            ).fetchall()
            return [_thread(r) for r in rows]

        return await self._runner.run_in_reader(unit)

    async def messages(self, thread: Thread, limit: int = 200) -> list[ThreadMessage]:
        return await self._runner.run_in_reader(lambda c: thread_messages(c, thread, limit))

    async def assign(self, thread_id: str, assignee: str | None) -> Thread | None:
        now = self._now_ms()
        return await self._runner.run_in_writer(lambda c: self._set(
            c, thread_id, "assignee = ?, updated_at = ?", (assignee, now)))

    async def close(self, thread_id: str) -> Thread | None:
        now = self._now_ms()
        return await self._runner.run_in_writer(lambda c: self._set(
            c, thread_id, "status = 'closed', needs_agent = 0, updated_at = ?", (now,)))

    async def reopen(self, thread_id: str) -> Thread | None:
        now = self._now_ms()
        return await self._runner.run_in_writer(lambda c: self._set(
            c, thread_id, "status = 'open', updated_at = ?", (now,)))

    async def prepare_reply(self, thread_id: str) -> Thread | None:
        """Before an agent's reply is queued: pin the number to the thread's SIM, take the
        flag down (an agent is on it) and note the time."""
        now = self._now_ms()

        def unit(conn: sqlite3.Connection) -> Thread | None:
            thread = self._set(conn, thread_id, "status = 'open', needs_agent = 0,"
                               " updated_at = ?, last_outbound_at = ?", (now, now))
            if thread is not None:
                pin_sim(conn, thread.number, thread.modem_id, now)
            return thread

        return await self._runner.run_in_writer(unit)

    @staticmethod
    def _set(conn: sqlite3.Connection, thread_id: str, assignments: str,
             params: tuple[Any, ...]) -> Thread | None:
        conn.execute(f"UPDATE msg_threads SET {assignments} WHERE id = ?", (*params, thread_id))
        return get_thread(conn, thread_id)

    @staticmethod
    def reply_metadata(thread: Thread, agent: str | None) -> dict[str, Any]:
        return {META: {"thread": thread.id, "kind": "agent", "agent": agent}}


__all__ = ["Conversations", "Thread", "ThreadMessage", "get_thread", "pin_sim",
           "thread_messages", "upsert_inbound"]

"""Inbound SMS: store each part durably, drop exact repeats, reassemble concatenated messages.

Dedupe key: modem, sender, SMSC timestamp, concatenation (ref, total, seq) and a hash of the
content. A re-read of the same stored SMS, or the network redelivering one we did not ack,
repeats all of these; a person sending the same text again gets a new SMSC timestamp, so it is
kept. Reassembly groups parts by (modem, sender, ref, total); a group that sees the same part
number again with different content is an older message whose 8-bit ref came round again: the
older group is closed as incomplete and a new one begins. Groups that wait longer than the
reassembly timeout are delivered with what arrived, marked incomplete.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from .models import InboundMessage, InboundPart, InboundQuery, InboundResult
from .rows import from_ms, to_ms
from .writer_state import WriterState

_GroupKey = tuple[str, str, int, int]


def dedupe_key(part: InboundPart) -> str:
    body = hashlib.sha256((part.pdu or "").encode() + b"\0" + part.text.encode()).hexdigest()
    concat = "-" if part.concat is None else "/".join(str(n) for n in part.concat)
    raw = f"{part.modem_id}\0{part.sender}\0{to_ms(part.smsc_timestamp)}\0{concat}\0{body}"
    return hashlib.sha256(raw.encode()).hexdigest()


INBOUND_COLUMNS = (
    "seq, id, modem_id, sender, text, encoding, smsc_timestamp, received_at, parts_expected,"
    " parts_received, complete, missing"
)


def inbound_from_row(row: tuple[Any, ...]) -> InboundMessage:
    (
        _seq,
        id_,
        modem_id,
        sender,
        text,
        encoding,
        scts,
        received_at,
        expected,
        received,
        complete,
        missing,
    ) = row
    return InboundMessage(
        id=id_,
        modem_id=modem_id,
        sender=sender,
        text=text,
        encoding=encoding,
        smsc_timestamp=from_ms(scts),
        received_at=from_ms(received_at),
        parts_expected=expected,
        parts_received=received,
        complete=bool(complete),
        missing=tuple(json.loads(missing)) if missing else (),
    )


def _insert_message(
    conn: sqlite3.Connection,
    state: WriterState,
    *,
    modem_id: str,
    sender: str,
    text: str,
    encoding: str,
    scts_ms: int,
    received_ms: int,
    expected: int,
    received: int,
    missing: list[int],
) -> tuple[int, InboundMessage]:
    message_id = state.ids.new(received_ms)
    complete = not missing
    cur = conn.execute(
        "INSERT INTO inbound_messages (id, modem_id, sender, text, encoding, smsc_timestamp,"
        " received_at, parts_expected, parts_received, complete, missing)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            message_id,
            modem_id,
            sender,
            text,
            encoding,
            scts_ms,
            received_ms,
            expected,
            received,
            int(complete),
            json.dumps(missing) if missing else None,
        ),
    )
    conn.execute(
        "INSERT INTO conversations (number, modem_id, last_at) VALUES (?, ?, ?)"
        " ON CONFLICT (number) DO UPDATE SET modem_id = excluded.modem_id,"
        " last_at = excluded.last_at",
        (sender, modem_id, received_ms),
    )
    assert cur.lastrowid is not None
    message = InboundMessage(
        id=message_id,
        modem_id=modem_id,
        sender=sender,
        text=text,
        encoding=encoding,
        smsc_timestamp=from_ms(scts_ms),
        received_at=from_ms(received_ms),
        parts_expected=expected,
        parts_received=received,
        complete=complete,
        missing=tuple(missing),
    )
    return cur.lastrowid, message


def _assemble(conn: sqlite3.Connection, state: WriterState, key: _GroupKey) -> InboundMessage:
    modem_id, sender, _ref, total = key
    rows = conn.execute(
        "SELECT id, concat_seq, text, encoding, smsc_timestamp, received_at FROM inbound_parts"
        " WHERE message_seq IS NULL AND modem_id = ? AND sender = ? AND concat_ref = ?"
        " AND concat_total = ? ORDER BY concat_seq, id",
        key,
    ).fetchall()
    by_seq: dict[int, tuple[Any, ...]] = {}
    for row in rows:
        by_seq.setdefault(row[1], row)
    ordered = [by_seq[n] for n in sorted(by_seq)]
    encodings = {r[3] for r in ordered}
    seq, message = _insert_message(
        conn,
        state,
        modem_id=modem_id,
        sender=sender,
        text="".join(r[2] for r in ordered),
        encoding=encodings.pop() if len(encodings) == 1 else "mixed",
        scts_ms=min(r[4] for r in ordered),
        received_ms=max(r[5] for r in ordered),
        expected=total,
        received=len(ordered),
        missing=[n for n in range(1, total + 1) if n not in by_seq],
    )
    conn.executemany(
        "UPDATE inbound_parts SET message_seq = ? WHERE id = ?", [(seq, r[0]) for r in rows]
    )
    return message


def store_part(conn: sqlite3.Connection, state: WriterState, part: InboundPart) -> InboundResult:
    key = dedupe_key(part)
    if conn.execute("SELECT 1 FROM inbound_parts WHERE dedupe_key = ?", (key,)).fetchone():
        return InboundResult(duplicate=True, message=None)
    scts_ms = to_ms(part.smsc_timestamp)
    received_ms = to_ms(part.received_at)
    concat = part.concat
    if concat is not None and (concat[1] <= 1 or not 1 <= concat[2] <= concat[1]):
        concat = None  # a "1 of 1" or malformed header: treat as a single message
    insert = (
        "INSERT INTO inbound_parts (dedupe_key, modem_id, sender, concat_ref, concat_total,"
        " concat_seq, text, encoding, pdu, smsc_timestamp, received_at, message_seq)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    if concat is None:
        seq, message = _insert_message(
            conn,
            state,
            modem_id=part.modem_id,
            sender=part.sender,
            text=part.text,
            encoding=part.encoding,
            scts_ms=scts_ms,
            received_ms=received_ms,
            expected=1,
            received=1,
            missing=[],
        )
        conn.execute(
            insert,
            (
                key,
                part.modem_id,
                part.sender,
                None,
                None,
                None,
                part.text,
                part.encoding,
                part.pdu,
                scts_ms,
                received_ms,
                seq,
            ),
        )
        return InboundResult(duplicate=False, message=message)
    ref, total, number = concat
    group: _GroupKey = (part.modem_id, part.sender, ref, total)
    flushed: list[InboundMessage] = []
    if conn.execute(
        "SELECT 1 FROM inbound_parts WHERE message_seq IS NULL AND modem_id = ? AND sender = ?"
        " AND concat_ref = ? AND concat_total = ? AND concat_seq = ?",
        (*group, number),
    ).fetchone():
        flushed.append(_assemble(conn, state, group))
    conn.execute(
        insert,
        (
            key,
            part.modem_id,
            part.sender,
            ref,
            total,
            number,
            part.text,
            part.encoding,
            part.pdu,
            scts_ms,
            received_ms,
            None,
        ),
    )
    have = conn.execute(
        "SELECT count(DISTINCT concat_seq) FROM inbound_parts WHERE message_seq IS NULL"
        " AND modem_id = ? AND sender = ? AND concat_ref = ? AND concat_total = ?",
        group,
    ).fetchone()[0]
    done = _assemble(conn, state, group) if have >= total else None
    return InboundResult(duplicate=False, message=done, flushed=tuple(flushed))


def expire_reassembly(
    conn: sqlite3.Connection, state: WriterState, older_than_ms: int
) -> list[InboundMessage]:
    groups = conn.execute(
        "SELECT modem_id, sender, concat_ref, concat_total FROM inbound_parts"
        " WHERE message_seq IS NULL GROUP BY modem_id, sender, concat_ref, concat_total"
        " HAVING min(received_at) <= ?",
        (older_than_ms,),
    ).fetchall()
    return [_assemble(conn, state, (g[0], g[1], g[2], g[3])) for g in groups]


def get_inbound(conn: sqlite3.Connection, message_id: str) -> InboundMessage | None:
    row = conn.execute(
        f"SELECT {INBOUND_COLUMNS} FROM inbound_messages WHERE id = ?", (message_id,)
    ).fetchone()
    return None if row is None else inbound_from_row(row)


def list_inbound(conn: sqlite3.Connection, query: InboundQuery) -> list[InboundMessage]:
    where: list[str] = []
    params: list[Any] = []
    if query.sender is not None:
        where.append("sender = ?")
        params.append(query.sender)
    if query.modem_id is not None:
        where.append("modem_id = ?")
        params.append(query.modem_id)
    if query.since is not None:
        where.append("received_at >= ?")
        params.append(to_ms(query.since))
    if query.cursor is not None:
        where.append("id < ?")
        params.append(query.cursor)
    sql = f"SELECT {INBOUND_COLUMNS} FROM inbound_messages"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(query.limit)
    return [inbound_from_row(r) for r in conn.execute(sql, params).fetchall()]


def prune_dedupe(conn: sqlite3.Connection, older_than_ms: int) -> int:
    """Forget assembled parts (and so their dedupe keys) older than the dedupe window."""
    return conn.execute(
        "DELETE FROM inbound_parts WHERE message_seq IS NOT NULL AND received_at < ?",
        (older_than_ms,),
    ).rowcount

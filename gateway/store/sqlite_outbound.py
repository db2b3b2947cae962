"""Outbound units of work for the SQLite store: synchronous functions run on the writer thread
inside a group-commit transaction (see `writer.py`). Each one keeps the message state machine
and its `transitions` rows in step, so every change of status is recorded where it happens.
"""

from __future__ import annotations

import functools
import json
import random
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .errors import (
    IdempotencyConflictError,
    InvalidMessageError,
    NotCancelableError,
    NotFoundError,
)
from .models import (
    ClaimRequest,
    Enqueued,
    FailureRecord,
    Housekeeping,
    Job,
    JobPart,
    Lane,
    Message,
    MessageStatus,
    NewMessage,
    OutcomeResult,
    RecoveryReport,
)
from .options import StoreOptions, UncertainPolicy
from .rows import MESSAGE_COLUMNS, STATUS_BY_VALUE, from_ms, message_from_row, opt_dt, opt_ms, to_ms
from .sqlite_common import chunks, marks, transition
from .sqlite_reports import apply_orphans, settle
from .writer_state import WriterState

Q = MessageStatus.QUEUED.value
S = MessageStatus.SCHEDULED.value
SENDING = MessageStatus.SENDING.value

_FIRST_WINDOW = 8  # candidates read per sender on the first look
_SECOND_WINDOW = 128  # ... and on a second look when none of the first fit this modem
_MAX_SENDERS = 64  # senders visited per (lane, pool) in one claim
_SWEEP_LIMIT = 2000  # rows moved per housekeeping statement


# --- accepting messages ------------------------------------------------------------------------


def _sticky_modems(
    conn: sqlite3.Connection, options: StoreOptions, numbers: Sequence[str], now_ms: int
) -> dict[str, str]:
    """The SIM each recipient recently talked with (sticky routing), for a whole batch."""
    if options.sticky_ttl is None or not numbers:
        return {}
    oldest = now_ms - int(options.sticky_ttl.total_seconds() * 1000)
    found: dict[str, str] = {}
    for part in chunks(list(dict.fromkeys(numbers))):
        for number, modem_id, last_at in conn.execute(
            "SELECT number, modem_id, last_at FROM conversations"
            f" WHERE number IN ({marks(len(part))})", part,
        ):
            if last_at >= oldest:
                found[number] = modem_id
    return found


def allocate_concat_ref(conn: sqlite3.Connection, number: str) -> int:
    """Next 8-bit concatenation reference for this destination (wraps 255 -> 0)."""
    row = conn.execute(
        "INSERT INTO concat_refs (to_number, next_ref) VALUES (?, ?)"
        " ON CONFLICT (to_number) DO UPDATE SET next_ref = (next_ref + 1) % 256"
        " RETURNING next_ref",
        (number, random.randrange(256)),
    ).fetchone()
    return int(row[0])


def _checked(new: NewMessage) -> tuple[int | None, int | None, str | None]:
    """Everything that can refuse one message, before anything is written: send_at,
    expires_at (ms) and the metadata JSON."""
    if not new.to:
        raise InvalidMessageError("a message needs a destination number")
    if new.segments < 1 or new.segments > 255:
        raise InvalidMessageError(f"segments must be 1-255, not {new.segments}")
    try:
        send_at = opt_ms(new.send_at)
        expires_at = opt_ms(new.expires_at)
        metadata = json.dumps(dict(new.metadata), separators=(",", ":")) if new.metadata else None
    except (TypeError, ValueError) as exc:
        raise InvalidMessageError(str(exc)) from exc
    return send_at, expires_at, metadata


def _replay(conn: sqlite3.Connection, new: NewMessage) -> Enqueued | None:
    """The message this idempotency key already made, or None; a conflict raises."""
    row = conn.execute(
        f"SELECT {MESSAGE_COLUMNS}, request_hash FROM messages"
        " WHERE api_key = ? AND idempotency_key = ?",
        (new.api_key, new.idempotency_key),
    ).fetchone()
    if row is None:
        return None
    existing = message_from_row(row[:-1])
    if row[-1] != new.request_hash:
        assert new.idempotency_key is not None
        raise IdempotencyConflictError(new.idempotency_key, existing.id)
    return Enqueued(existing, created=False)


_MESSAGE_COLUMNS = (
    "id", "to_number", "text", "encoding", "segments", "lane", "sender", "category", "pool",
    "carrier", "pin_modem", "status", "concat_ref", "send_at", "expires_at", "status_callback",
    "metadata", "api_key", "idempotency_key", "request_hash", "request_status_report",
    "created_at", "updated_at",
)  # the order of enqueue_many's rows
_SEGMENTS = _MESSAGE_COLUMNS.index("segments")
# A batch's messages are written with a few multi-row INSERTs (chunks of a power of two rows,
# so at most a handful of distinct statements exist and every one stays in the connection's
# statement cache), then their parts and first transitions from the rows just written.
# executemany releases and retakes the GIL for every row's step: with the event loop busy on
# the next request, the writer spent a third of its time waiting for the GIL. A chunk binds
# its values in C and steps once with the GIL released. (A json_each insert was tried too: it
# releases the GIL as well but costs twice the CPU, mostly in SQLite's JSON parsing.)
_VALUES_ROW = f"({', '.join('?' * len(_MESSAGE_COLUMNS))})"
_MAX_CHUNK = 256  # rows per statement: more buys nothing measurable


def _chunk_limit(conn: sqlite3.Connection) -> int:
    """The largest power of two rows whose values fit the connection's host-parameter limit
    (32766 since SQLite 3.32; 999 before)."""
    fits = max(1, min(_MAX_CHUNK, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
                      // len(_MESSAGE_COLUMNS)))
    return 1 << (fits.bit_length() - 1)


@functools.cache
def _insert_rows_sql(count: int) -> str:
    return (f"INSERT INTO messages ({', '.join(_MESSAGE_COLUMNS)}) VALUES "
            + ", ".join([_VALUES_ROW] * count))


_INSERT_PARTS_SINCE = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
    " INSERT INTO parts (message_seq, seq, status)"
    " SELECT m.seq, n.i, 'pending' FROM messages AS m JOIN n ON n.i <= m.segments"
    " WHERE m.seq > ?"
)
_INSERT_TRANSITIONS_SINCE = (
    "INSERT INTO transitions (message_seq, from_status, to_status, at)"
    " SELECT seq, NULL, status, created_at FROM messages WHERE seq > ? ORDER BY seq"
)


def _insert_messages(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert `rows` (`_MESSAGE_COLUMNS`), in order, with their pending parts and first
    transitions. The single writer inside its transaction makes `seq > max(seq)` exactly the
    rows inserted here."""
    (before,) = conn.execute("SELECT coalesce(max(seq), 0) FROM messages").fetchone()
    size = _chunk_limit(conn)
    start = 0
    while start < len(rows):
        while size > len(rows) - start:
            size //= 2
        chunk = rows[start: start + size]
        conn.execute(_insert_rows_sql(size), [value for row in chunk for value in row])
        start += size
    most = max(row[_SEGMENTS] for row in rows)
    conn.execute(_INSERT_PARTS_SINCE, (most, before))
    conn.execute(_INSERT_TRANSITIONS_SINCE, (before,))


def enqueue(
    conn: sqlite3.Connection,
    state: WriterState,
    options: StoreOptions,
    new: NewMessage,
    now_ms: int,
) -> Enqueued:
    (result,) = enqueue_many(conn, state, options, [new], now_ms)
    if isinstance(result, Exception):
        raise result
    return result


def enqueue_many(
    conn: sqlite3.Connection,
    state: WriterState,
    options: StoreOptions,
    messages: Sequence[NewMessage],
    now_ms: int,
) -> list[Enqueued | Exception]:
    """Store a batch with a few statements for the whole of it (see `_insert_messages`), not a
    few per message: at thousands of messages a second the per-statement cost was most
    of the writer's time.

    A refused message does not refuse the batch: every refusal (bad fields, an idempotency
    conflict) is found before the first write, so no savepoint per message is needed (an SQL
    error fails the whole unit). A key used twice in one batch behaves as two calls in turn.
    """
    results: list[Enqueued | Exception | None] = [None] * len(messages)
    rows: list[tuple[Any, ...]] = []
    made: list[tuple[int, NewMessage, str, str, int | None, int | None, str | None]] = []
    keys: dict[tuple[str, str], tuple[int, str]] = {}  # key -> (index, id) made in this batch
    repeats: dict[int, int] = {}  # index -> the earlier index whose message it replays
    pins = _sticky_modems(conn, options, [m.to for m in messages], now_ms)
    for i, new in enumerate(messages):
        try:
            send_at, expires_at, metadata = _checked(new)
            if new.idempotency_key is not None:
                key = (new.api_key, new.idempotency_key)
                earlier = keys.get(key)
                if earlier is not None:  # the same key earlier in this batch
                    if messages[earlier[0]].request_hash != new.request_hash:
                        raise IdempotencyConflictError(new.idempotency_key, earlier[1])
                    repeats[i] = earlier[0]
                    continue
                replay = _replay(conn, new)
                if replay is not None:
                    results[i] = replay
                    continue
        except (InvalidMessageError, IdempotencyConflictError) as exc:
            results[i] = exc
            continue
        status = S if send_at is not None and send_at > now_ms else Q
        concat_ref = allocate_concat_ref(conn, new.to) if new.segments > 1 else None
        message_id = state.ids.new(now_ms)
        if new.idempotency_key is not None:
            keys[(new.api_key, new.idempotency_key)] = (i, message_id)
        rows.append((
            message_id, new.to, new.text, new.encoding, new.segments, new.lane.rank, new.sender,
            new.category.value if new.category else None, new.pool, new.carrier,
            pins.get(new.to), status, concat_ref, send_at, expires_at, new.status_callback,
            metadata, new.api_key, new.idempotency_key, new.request_hash,
            int(new.request_status_report), now_ms, now_ms,
        ))
        made.append((i, new, message_id, status, send_at, expires_at, metadata))
    if rows:
        _insert_messages(conn, rows)
        (last,) = conn.execute("SELECT last_insert_rowid()").fetchone()
        state.max_transition_id = max(state.max_transition_id, int(last))
        created_at = from_ms(now_ms)
        for i, new, message_id, status, send_at, expires_at, metadata in made:
            if status == Q:
                state.made_ready += 1
            results[i] = Enqueued(_message(new, message_id, status, send_at=send_at,
                                           expires_at=expires_at, metadata=metadata,
                                           created_at=created_at), created=True)
    for i, first in repeats.items():
        made_first = results[first]
        assert isinstance(made_first, Enqueued)
        results[i] = Enqueued(made_first.message, created=False)
    out: list[Enqueued | Exception] = []
    for result in results:
        assert result is not None
        out.append(result)
    return out


def _message(new: NewMessage, message_id: str, status: str, *, send_at: int | None,
             expires_at: int | None, metadata: str | None, created_at: datetime) -> Message:
    return Message(
        id=message_id,
        to=new.to,
        text=new.text,
        encoding=new.encoding,
        segments=new.segments,
        lane=new.lane,
        sender=new.sender,
        category=new.category,
        status=STATUS_BY_VALUE[status],
        uncertain=False,
        attempts=0,
        modem_id=None,
        send_at=opt_dt(send_at),
        expires_at=opt_dt(expires_at),
        error=None,
        status_callback=new.status_callback,
        metadata=json.loads(metadata) if metadata else None,
        api_key=new.api_key,
        idempotency_key=new.idempotency_key,
        pool=new.pool,
        carrier=new.carrier,
        created_at=created_at,
        updated_at=created_at,
    )


def cancel(conn: sqlite3.Connection, state: WriterState, message_id: str, now_ms: int) -> Message:
    row = conn.execute("SELECT seq, status FROM messages WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        raise NotFoundError("message", message_id)
    seq, status = row
    if status not in (Q, S):
        raise NotCancelableError(message_id, status)
    conn.execute(
        "UPDATE messages SET status = 'canceled', held_until = NULL, updated_at = ? WHERE seq = ?",
        (now_ms, seq),
    )
    transition(conn, state, seq, status, MessageStatus.CANCELED.value, at_ms=now_ms)
    return get_message(conn, message_id)


def get_message(conn: sqlite3.Connection, message_id: str) -> Message:
    row = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError("message", message_id)
    return message_from_row(row)


# --- claiming ------------------------------------------------------------------------------------


def _next_sender(conn: sqlite3.Connection, lane: int, pool: str, after: str | None) -> str | None:
    if after is not None:
        row = conn.execute(
            "SELECT sender FROM messages WHERE status = 'queued' AND held_until IS NULL"
            " AND lane = ? AND pool = ? AND sender > ? ORDER BY sender LIMIT 1",
            (lane, pool, after),
        ).fetchone()
        if row is not None:
            return str(row[0])
    row = conn.execute(
        "SELECT sender FROM messages WHERE status = 'queued' AND held_until IS NULL"
        " AND lane = ? AND pool = ? ORDER BY sender LIMIT 1",
        (lane, pool),
    ).fetchone()
    return None if row is None else str(row[0])


def _eligible(
    request: ClaimRequest,
    *,
    to: str,
    pin: str | None,
    excluded: str | None,
    created_ms: int,
    cutoff_ms: int | None,
) -> bool:
    me = request.modem_id
    if pin is not None and pin != me and pin in request.healthy_others:
        return False  # sticky to another SIM that can take it
    if excluded is not None:
        banned = set(json.loads(excluded))
        if me in banned and not (request.healthy_others | {me}) <= banned:
            return False  # another available SIM has not failed it yet
    if request.recipients_only is not None and to not in request.recipients_only:
        return False  # this SIM is at its unique-recipients cap
    return cutoff_ms is None or created_ms <= cutoff_ms


def _expire(
    conn: sqlite3.Connection, state: WriterState, seq: int, status: str, now_ms: int
) -> None:
    conn.execute(
        "UPDATE messages SET status = 'expired', held_until = NULL, updated_at = ?,"
        " error_code = 'EXPIRED', error_class = 'permanent',"
        " error_detail = 'validity period ended before the message could be sent' WHERE seq = ?",
        (now_ms, seq),
    )
    transition(
        conn,
        state,
        seq,
        status,
        MessageStatus.EXPIRED.value,
        at_ms=now_ms,
        error_code="EXPIRED",
        error_class="permanent",
        detail="validity period ended before the message could be sent",
    )


def _pick(
    conn: sqlite3.Connection,
    state: WriterState,
    request: ClaimRequest,
    *,
    lane: int,
    pool: str,
    cutoff_ms: int | None,
    now_ms: int,
) -> int | None:
    key = (lane, pool)
    sender = _next_sender(conn, lane, pool, state.cursors.get(key))
    first = sender
    visited = 0
    while sender is not None and visited < _MAX_SENDERS:
        for window in (_FIRST_WINDOW, _SECOND_WINDOW):
            rows = conn.execute(
                "SELECT seq, to_number, pin_modem, excluded_modems, created_at, expires_at"
                " FROM messages WHERE status = 'queued' AND held_until IS NULL AND lane = ?"
                " AND pool = ? AND sender = ? ORDER BY seq LIMIT ?",
                (lane, pool, sender, window),
            ).fetchall()
            for seq, to, pin, excluded, created_ms, expires_ms in rows:
                if expires_ms is not None and expires_ms <= now_ms:
                    _expire(conn, state, seq, Q, now_ms)
                    continue
                if _eligible(
                    request,
                    to=to,
                    pin=pin,
                    excluded=excluded,
                    created_ms=created_ms,
                    cutoff_ms=cutoff_ms,
                ):
                    state.cursors[key] = sender
                    return int(seq)
            if len(rows) < window:
                break
        visited += 1
        sender = _next_sender(conn, lane, pool, sender)
        if sender == first:
            break
    return None


def claim(
    conn: sqlite3.Connection, state: WriterState, request: ClaimRequest, now_ms: int
) -> Job | None:
    """Pick the next message for this modem and commit it as `sending` with the modem set."""
    plan: list[tuple[str, int | None]] = [(pool, None) for pool in request.pools]
    plan += [(pool, to_ms(cutoff)) for pool, cutoff in request.aged_pools]
    for lane in request.lanes:
        for pool, cutoff_ms in plan:
            seq = _pick(
                conn, state, request, lane=lane.rank, pool=pool, cutoff_ms=cutoff_ms, now_ms=now_ms
            )
            if seq is not None:
                return _take(conn, state, request, seq, now_ms)
    return None


def _take(
    conn: sqlite3.Connection, state: WriterState, request: ClaimRequest, seq: int, now_ms: int
) -> Job:
    me = request.modem_id
    row = conn.execute(
        "SELECT id, to_number, text, encoding, segments, concat_ref, lane, sender, attempts,"
        " uncertain, expires_at, request_status_report, created_at FROM messages WHERE seq = ?",
        (seq,),
    ).fetchone()
    (
        message_id,
        to,
        text,
        encoding,
        segments,
        concat_ref,
        lane,
        sender,
        attempts,
        uncertain,
        expires_at,
        srr,
        created_at,
    ) = row
    attempt = attempts + 1
    # Parts sent earlier through another SIM must all go again through this one: a handset only
    # joins parts that share the sender's number.
    other = conn.execute(
        "SELECT 1 FROM parts WHERE message_seq = ? AND status = 'sent' AND modem_id IS NOT ?"
        " LIMIT 1",
        (seq, me),
    ).fetchone()
    if other is not None:
        conn.execute(
            "UPDATE parts SET status = 'pending', modem_id = NULL, mr = NULL, sent_at = NULL,"
            " pdu = NULL, tpdu_length = NULL WHERE message_seq = ? AND status = 'sent'",
            (seq,),
        )
    conn.execute(
        "UPDATE messages SET status = 'sending', modem_id = ?, attempts = ?, pin_modem = NULL,"
        " updated_at = ? WHERE seq = ?",
        (me, attempt, now_ms, seq),
    )
    conn.execute(
        "UPDATE parts SET status = 'sending', modem_id = ? WHERE message_seq = ?"
        " AND status = 'pending'",
        (me, seq),
    )
    part_rows = conn.execute(
        "SELECT seq FROM parts WHERE message_seq = ? AND status = 'sending' ORDER BY seq", (seq,)
    ).fetchall()
    transition(
        conn,
        state,
        seq,
        Q,
        SENDING,
        at_ms=now_ms,
        modem_id=me,
        detail=f"attempt {attempt}" + ("; resending all parts" if other is not None else ""),
    )
    _count_usage(conn, me, request.day, request.month, to)
    return Job(
        message_id=message_id,
        to=to,
        text=text,
        encoding=encoding,
        segments=segments,
        concat_ref=concat_ref,
        parts=tuple(JobPart(r[0]) for r in part_rows),
        lane=Lane.from_rank(lane),
        sender=sender,
        modem_id=me,
        attempt=attempt,
        uncertain=bool(uncertain),
        expires_at=opt_dt(expires_at),
        request_status_report=bool(srr),
        created_at=from_ms(created_at),
    )


def _count_usage(conn: sqlite3.Connection, modem_id: str, day: str, month: str, to: str) -> None:
    if day:
        conn.execute(
            "INSERT INTO sim_usage (modem_id, period, count) VALUES (?, ?, 1)"
            " ON CONFLICT (modem_id, period) DO UPDATE SET count = count + 1",
            (modem_id, f"d:{day}"),
        )
    if month:
        conn.execute(
            "INSERT OR IGNORE INTO sim_recipients (modem_id, month, number) VALUES (?, ?, ?)",
            (modem_id, month, to),
        )


# --- outcomes ------------------------------------------------------------------------------------


def _job_row(conn: sqlite3.Connection, job: Job) -> tuple[int, str] | None:
    """The message's seq and recipient if `job` is still the live attempt, else None."""
    row = conn.execute(
        "SELECT seq, to_number FROM messages WHERE id = ? AND status = 'sending' AND attempts = ?"
        " AND modem_id = ?",
        (job.message_id, job.attempt, job.modem_id),
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def part_sent(
    conn: sqlite3.Connection,
    state: WriterState,
    options: StoreOptions,
    job: Job,
    *,
    part: int,
    mr: int,
    pdu: str | None,
    tpdu_length: int | None,
    now_ms: int,
) -> OutcomeResult:
    found = _job_row(conn, job)
    if found is None:
        return OutcomeResult(job.message_id, None, accepted=False)
    seq, to = found
    cur = conn.execute(
        "UPDATE parts SET status = 'sent', mr = ?, pdu = ?, tpdu_length = ?, sent_at = ?,"
        " modem_id = ? WHERE message_seq = ? AND seq = ? AND status = 'sending'",
        (mr & 0xFF, pdu, tpdu_length, now_ms, job.modem_id, seq, part),
    )
    if cur.rowcount != 1:
        return OutcomeResult(job.message_id, MessageStatus.SENDING, accepted=False)
    left = conn.execute(
        "SELECT count(*) FROM parts WHERE message_seq = ? AND status IN ('pending', 'sending')",
        (seq,),
    ).fetchone()[0]
    status = MessageStatus.SENDING
    if left == 0:
        conn.execute(
            "UPDATE messages SET status = 'sent', updated_at = ?, error_code = NULL,"
            " error_class = NULL, error_detail = NULL WHERE seq = ?",
            (now_ms, seq),
        )
        transition(
            conn, state, seq, SENDING, MessageStatus.SENT.value, at_ms=now_ms, modem_id=job.modem_id
        )
        conn.execute(
            "INSERT INTO conversations (number, modem_id, last_at) VALUES (?, ?, ?)"
            " ON CONFLICT (number) DO UPDATE SET modem_id = excluded.modem_id,"
            " last_at = excluded.last_at",
            (to, job.modem_id, now_ms),
        )
        status = MessageStatus.SENT
    # A status report may have overtaken this record (fast SMSC): apply it now.
    apply_orphans(
        conn,
        state,
        options,
        message_seq=seq,
        part=part,
        modem_id=job.modem_id,
        mr=mr & 0xFF,
        to=to,
        now_ms=now_ms,
    )
    if status is MessageStatus.SENT:  # parts may have been reported delivered already
        status = settle(conn, state, seq, now_ms, modem_id=job.modem_id, tp_st=None)
    return OutcomeResult(job.message_id, status, accepted=True)


def failure(
    conn: sqlite3.Connection,
    state: WriterState,
    job: Job,
    record: FailureRecord,
    now_ms: int,
) -> OutcomeResult:
    found = _job_row(conn, job)
    if found is None:
        return OutcomeResult(job.message_id, None, accepted=False)
    seq, _to = found
    if record.retry_at is None:
        _fail(
            conn,
            state,
            seq,
            modem_id=job.modem_id,
            code=record.error_code,
            error_class=record.error_class,
            detail=record.detail,
            now_ms=now_ms,
        )
        return OutcomeResult(job.message_id, MessageStatus.FAILED, accepted=True)
    retry_ms = to_ms(record.retry_at)
    held = retry_ms if retry_ms > now_ms else None
    excluded_sql = ""
    params: list[Any] = []
    if record.exclude_modem:
        current = conn.execute(
            "SELECT excluded_modems FROM messages WHERE seq = ?", (seq,)
        ).fetchone()[0]
        banned = set(json.loads(current)) if current else set()
        banned.add(job.modem_id)
        excluded_sql = ", excluded_modems = ?"
        params.append(json.dumps(sorted(banned)))
    pin = None
    if not record.exclude_modem:
        sent_here = conn.execute(
            "SELECT 1 FROM parts WHERE message_seq = ? AND status = 'sent' LIMIT 1", (seq,)
        ).fetchone()
        pin = job.modem_id if sent_here else None  # finish a partial send on the same SIM
    conn.execute(
        "UPDATE messages SET status = 'queued', held_until = ?, pin_modem = ?, updated_at = ?,"
        f" error_code = ?, error_class = ?, error_detail = ?{excluded_sql} WHERE seq = ?",
        (held, pin, now_ms, record.error_code, record.error_class, record.detail, *params, seq),
    )
    _parts_back_to_queue(conn, state, seq, modem_id=job.modem_id, code=record.error_code,
                         error_class=record.error_class, detail=record.detail, now_ms=now_ms)
    if held is None:
        state.made_ready += 1
    return OutcomeResult(job.message_id, MessageStatus.QUEUED, accepted=True)


def _parts_back_to_queue(
    conn: sqlite3.Connection,
    state: WriterState,
    seq: int,
    *,
    modem_id: str | None,
    code: str | None,
    error_class: str | None,
    detail: str | None,
    now_ms: int,
) -> None:
    """The parts still `sending` wait again, and the message's way back is recorded."""
    conn.execute(
        "UPDATE parts SET status = 'pending', modem_id = NULL WHERE message_seq = ?"
        " AND status = 'sending'",
        (seq,),
    )
    transition(
        conn,
        state,
        seq,
        SENDING,
        Q,
        at_ms=now_ms,
        modem_id=modem_id,
        error_code=code,
        error_class=error_class,
        detail=detail,
    )


def _fail(
    conn: sqlite3.Connection,
    state: WriterState,
    seq: int,
    *,
    modem_id: str | None,
    code: str | None,
    error_class: str | None,
    detail: str | None,
    now_ms: int,
    from_status: str = SENDING,
    uncertain: bool = False,
) -> None:
    conn.execute(
        "UPDATE messages SET status = 'failed', held_until = NULL, updated_at = ?,"
        " error_code = ?, error_class = ?, error_detail = ?, uncertain = uncertain OR ?"
        " WHERE seq = ?",
        (now_ms, code, error_class, detail, int(uncertain), seq),
    )
    conn.execute(
        "UPDATE parts SET status = 'failed' WHERE message_seq = ? AND status IN"
        " ('pending', 'sending')",
        (seq,),
    )
    transition(
        conn,
        state,
        seq,
        from_status,
        MessageStatus.FAILED.value,
        at_ms=now_ms,
        modem_id=modem_id,
        error_code=code,
        error_class=error_class,
        detail=detail,
    )


def _requeue_uncertain(
    conn: sqlite3.Connection,
    state: WriterState,
    seq: int,
    *,
    modem_id: str | None,
    detail: str,
    now_ms: int,
) -> None:
    # Resend from the same SIM when it is still there, so the recipient sees one sender.
    conn.execute(
        "UPDATE messages SET status = 'queued', uncertain = 1, held_until = NULL, pin_modem = ?,"
        " updated_at = ?, error_code = 'UNCERTAIN', error_class = 'temporary', error_detail = ?"
        " WHERE seq = ?",
        (modem_id, now_ms, detail, seq),
    )
    _parts_back_to_queue(conn, state, seq, modem_id=modem_id, code="UNCERTAIN",
                         error_class="temporary", detail=detail, now_ms=now_ms)
    state.made_ready += 1


def uncertain(
    conn: sqlite3.Connection,
    state: WriterState,
    job: Job,
    *,
    policy: UncertainPolicy,
    detail: str,
    max_attempts: int,
    now_ms: int,
) -> OutcomeResult:
    found = _job_row(conn, job)
    if found is None:
        return OutcomeResult(job.message_id, None, accepted=False)
    seq, _to = found
    if policy is UncertainPolicy.RESEND and job.attempt < max_attempts:
        _requeue_uncertain(
            conn,
            state,
            seq,
            modem_id=job.modem_id,
            detail=f"{detail}; resending (policy resend)",
            now_ms=now_ms,
        )
        return OutcomeResult(job.message_id, MessageStatus.QUEUED, accepted=True)
    why = "policy fail" if policy is UncertainPolicy.FAIL else f"{job.attempt} attempts"
    _fail(
        conn,
        state,
        seq,
        modem_id=job.modem_id,
        code="UNCERTAIN",
        error_class="uncertain",
        detail=f"{detail}; not resent ({why})",
        now_ms=now_ms,
        uncertain=True,
    )
    return OutcomeResult(job.message_id, MessageStatus.FAILED, accepted=True)


def release(
    conn: sqlite3.Connection, state: WriterState, job: Job, day: str, now_ms: int
) -> OutcomeResult:
    """Give back a job that never reached AT+CMGS: no attempt is counted."""
    found = _job_row(conn, job)
    if found is None:
        return OutcomeResult(job.message_id, None, accepted=False)
    seq, _to = found
    conn.execute(
        "UPDATE messages SET status = 'queued', attempts = attempts - 1, updated_at = ?"
        " WHERE seq = ?",
        (now_ms, seq),
    )
    conn.execute(
        "UPDATE parts SET status = 'pending', modem_id = NULL WHERE message_seq = ?"
        " AND status = 'sending'",
        (seq,),
    )
    if day:
        conn.execute(
            "UPDATE sim_usage SET count = max(count - 1, 0) WHERE modem_id = ? AND period = ?",
            (job.modem_id, f"d:{day}"),
        )
    transition(
        conn,
        state,
        seq,
        SENDING,
        Q,
        at_ms=now_ms,
        modem_id=job.modem_id,
        detail="released before submit",
    )
    state.made_ready += 1
    return OutcomeResult(job.message_id, MessageStatus.QUEUED, accepted=True)


# --- time-driven moves ---------------------------------------------------------------------------


def promote_due(conn: sqlite3.Connection, state: WriterState, now_ms: int) -> Housekeeping:
    """Runs every tick, so each query names its partial index: without statistics SQLite's
    planner preferred `messages_status` and walked every queued message (O(queue) per tick).
    `INDEXED BY` also makes a query that can no longer use its index fail loudly."""
    expired = 0
    for seq, status in conn.execute(
        "SELECT seq, status FROM messages INDEXED BY messages_expiry"
        " WHERE expires_at IS NOT NULL AND expires_at <= ?"
        " AND status IN ('queued', 'scheduled') LIMIT ?",
        (now_ms, _SWEEP_LIMIT),
    ).fetchall():
        _expire(conn, state, seq, status, now_ms)
        expired += 1
    promoted = 0
    for (seq,) in conn.execute(
        "SELECT seq FROM messages INDEXED BY messages_scheduled"
        " WHERE status = 'scheduled' AND send_at <= ? ORDER BY send_at"
        " LIMIT ?",
        (now_ms, _SWEEP_LIMIT),
    ).fetchall():
        conn.execute(
            "UPDATE messages SET status = 'queued', updated_at = ? WHERE seq = ?", (now_ms, seq)
        )
        transition(conn, state, seq, S, Q, at_ms=now_ms, detail="send_at reached")
        promoted += 1
    released = conn.execute(
        "UPDATE messages SET held_until = NULL WHERE seq IN (SELECT seq FROM messages"
        " INDEXED BY messages_held"
        " WHERE status = 'queued' AND held_until IS NOT NULL AND held_until <= ? LIMIT ?)",
        (now_ms, _SWEEP_LIMIT),
    ).rowcount
    state.made_ready += promoted + released
    candidates = [
        conn.execute("SELECT min(send_at) FROM messages INDEXED BY messages_scheduled"
                     " WHERE status = 'scheduled'").fetchone()[0],
        conn.execute(
            "SELECT min(held_until) FROM messages INDEXED BY messages_held WHERE status = 'queued'"
            " AND held_until IS NOT NULL"
        ).fetchone()[0],
        conn.execute(
            "SELECT min(expires_at) FROM messages INDEXED BY messages_expiry"
            " WHERE expires_at IS NOT NULL"
            " AND status IN ('queued', 'scheduled')"
        ).fetchone()[0],
    ]
    due = [c for c in candidates if c is not None]
    return Housekeeping(promoted, released, expired, from_ms(min(due)) if due else None)


def recover(
    conn: sqlite3.Connection,
    state: WriterState,
    policy: UncertainPolicy,
    now_ms: int,
) -> RecoveryReport:
    """Messages left in `sending` by a crash: flag them uncertain and apply the policy."""
    rows = conn.execute(
        "SELECT seq, id, modem_id FROM messages WHERE status = 'sending'"
    ).fetchall()
    requeued = failed = 0
    detail = "outcome unknown: the gateway stopped while this message was being sent"
    for seq, _message_id, modem_id in rows:
        if policy is UncertainPolicy.RESEND:
            _requeue_uncertain(
                conn,
                state,
                seq,
                modem_id=modem_id,
                detail=f"{detail}; resending (policy resend)",
                now_ms=now_ms,
            )
            requeued += 1
        else:
            _fail(
                conn,
                state,
                seq,
                modem_id=modem_id,
                code="UNCERTAIN",
                error_class="uncertain",
                detail=f"{detail}; not resent (policy fail)",
                now_ms=now_ms,
                uncertain=True,
            )
            failed += 1
    return RecoveryReport(tuple(r[1] for r in rows), requeued, failed)

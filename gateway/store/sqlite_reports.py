"""Status reports (SMS-STATUS-REPORT) matched to parts, and what they teach about numbers.

A report names the modem it came through, an 8-bit TP-MR (which wraps after 255, so the same
MR is reused within minutes on a busy SIM), the recipient and the SMSC's times. A part matches
when modem and MR agree, the recipient's trailing digits agree (SMSCs print numbers in national
or international form), and the part was sent inside the report window; the most recent such
part wins. A report that overtakes its `+CMGS` record waits in `orphan_reports` for a while.
"""

from __future__ import annotations

import re
import sqlite3

from .models import (
    MessageStatus,
    PartStatus,
    Reachability,
    StatusReportIn,
    StatusReportMatch,
)
from .options import StoreOptions
from .rows import opt_ms, to_ms
from .sqlite_common import transition
from .writer_state import WriterState

_DIGITS = re.compile(r"\D")
_TAIL = 9  # digits compared: enough to tell subscribers apart, short enough to skip prefixes

# TP-ST values that tell something about the number itself (TS 23.040 9.2.3.15).
_ABSENT_ST = frozenset({0x22, 0x62, 0x25, 0x65})  # no response from SME / error in SME
_INVALID_ST = frozenset({0x41, 0x43})  # incompatible destination / not obtainable


def same_recipient(a: str, b: str) -> bool:
    da, db = _DIGITS.sub("", a), _DIGITS.sub("", b)
    if not da or not db:
        return a.strip().lower() == b.strip().lower()  # alphanumeric or empty: exact
    n = min(len(da), len(db), _TAIL)
    return da[-n:] == db[-n:]


def part_status_for(tp_st: int) -> PartStatus:
    """TS 23.040 9.2.3.15: 0x00-0x1F completed, 0x20-0x3F SC still trying, 0x40-0x5F permanent
    error, 0x60-0x7F temporary error with the SC no longer trying (final), above: reserved."""
    if tp_st <= 0x1F:
        return PartStatus.DELIVERED
    if 0x40 <= tp_st <= 0x7F:
        return PartStatus.UNDELIVERED
    return PartStatus.SENT  # temporary (or reserved): keep waiting


def settle(
    conn: sqlite3.Connection,
    state: WriterState,
    message_seq: int,
    now_ms: int,
    *,
    modem_id: str | None,
    tp_st: int | None,
) -> MessageStatus:
    """Move a `sent` message to delivered/undelivered once its parts say so."""
    status = conn.execute("SELECT status FROM messages WHERE seq = ?", (message_seq,)).fetchone()[0]
    if status != MessageStatus.SENT.value:
        return MessageStatus(status)
    counts = dict(
        conn.execute(
            "SELECT status, count(*) FROM parts WHERE message_seq = ? GROUP BY status",
            (message_seq,),
        ).fetchall()
    )
    total = sum(counts.values())
    code = None if tp_st is None else f"TP-ST 0x{tp_st:02X}"
    if counts.get(PartStatus.UNDELIVERED.value, 0) > 0:
        new = MessageStatus.UNDELIVERED
        conn.execute(
            "UPDATE messages SET status = 'undelivered', updated_at = ?, error_code = ?,"
            " error_class = 'permanent', error_detail = ? WHERE seq = ?",
            (now_ms, code, "the network reports the message could not be delivered", message_seq),
        )
        transition(
            conn,
            state,
            message_seq,
            status,
            new.value,
            at_ms=now_ms,
            modem_id=modem_id,
            error_code=code,
            error_class="permanent",
            detail="status report: not delivered",
        )
        return new
    if counts.get(PartStatus.DELIVERED.value, 0) == total:
        conn.execute(
            "UPDATE messages SET status = 'delivered', updated_at = ? WHERE seq = ?",
            (now_ms, message_seq),
        )
        transition(
            conn,
            state,
            message_seq,
            status,
            MessageStatus.DELIVERED.value,
            at_ms=now_ms,
            modem_id=modem_id,
            error_code=code,
            detail="status report: delivered",
        )
        return MessageStatus.DELIVERED
    return MessageStatus.SENT


def learn(
    conn: sqlite3.Connection,
    options: StoreOptions,
    *,
    number: str,
    state: Reachability,
    reason: str,
    now_ms: int,
) -> None:
    ttl = {
        Reachability.INVALID: options.invalid_number_ttl,
        Reachability.ABSENT: options.absent_number_ttl,
        Reachability.REACHABLE: options.reachable_ttl,
    }[state]
    conn.execute(
        "INSERT INTO reachability (number, state, reason, updated_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (number) DO UPDATE SET state = excluded.state,"
        " reason = excluded.reason, updated_at = excluded.updated_at,"
        " expires_at = excluded.expires_at",
        (number, state.value, reason, now_ms, now_ms + int(ttl.total_seconds() * 1000)),
    )


def _learn_from_report(
    conn: sqlite3.Connection, options: StoreOptions, number: str, tp_st: int, now_ms: int
) -> None:
    if tp_st <= 0x1F:
        learn(
            conn,
            options,
            number=number,
            state=Reachability.REACHABLE,
            reason="delivery report: delivered",
            now_ms=now_ms,
        )
    elif tp_st in _ABSENT_ST:
        learn(
            conn,
            options,
            number=number,
            state=Reachability.ABSENT,
            reason=f"delivery report TP-ST 0x{tp_st:02X}: recipient not responding",
            now_ms=now_ms,
        )
    elif tp_st in _INVALID_ST:
        learn(
            conn,
            options,
            number=number,
            state=Reachability.INVALID,
            reason=f"delivery report TP-ST 0x{tp_st:02X}: destination not obtainable",
            now_ms=now_ms,
        )


def _apply(
    conn: sqlite3.Connection,
    state: WriterState,
    options: StoreOptions,
    *,
    message_seq: int,
    part: int,
    to: str,
    report_modem: str,
    tp_st: int,
    at_ms: int,
    now_ms: int,
) -> tuple[PartStatus, MessageStatus, bool]:
    part_status = part_status_for(tp_st)
    conn.execute(
        "UPDATE parts SET status = ?, report_status = ?, report_at = ? WHERE message_seq = ?"
        " AND seq = ?",
        (part_status.value, tp_st, at_ms, message_seq, part),
    )
    before = conn.execute("SELECT status FROM messages WHERE seq = ?", (message_seq,)).fetchone()[0]
    after = settle(conn, state, message_seq, now_ms, modem_id=report_modem, tp_st=tp_st)
    _learn_from_report(conn, options, to, tp_st, now_ms)
    return part_status, after, after.value != before


def match_report(
    conn: sqlite3.Connection,
    state: WriterState,
    options: StoreOptions,
    report: StatusReportIn,
    now_ms: int,
) -> StatusReportMatch | None:
    mr = report.mr & 0xFF
    received_ms = to_ms(report.received_at)
    oldest = received_ms - int(options.report_window.total_seconds() * 1000)
    newest = received_ms + int(options.report_clock_skew.total_seconds() * 1000)
    rows = conn.execute(
        "SELECT p.message_seq, p.seq, m.id, m.to_number FROM parts p"
        " JOIN messages m ON m.seq = p.message_seq"
        " WHERE p.modem_id = ? AND p.mr = ? AND p.status = 'sent' AND p.sent_at BETWEEN ? AND ?"
        " ORDER BY p.sent_at DESC, p.message_seq DESC",
        (report.modem_id, mr, oldest, newest),
    ).fetchall()
    for message_seq, part, message_id, to in rows:
        if same_recipient(to, report.recipient):
            part_status, message_status, changed = _apply(
                conn,
                state,
                options,
                message_seq=message_seq,
                part=part,
                to=to,
                report_modem=report.modem_id,
                tp_st=report.status,
                at_ms=received_ms,
                now_ms=now_ms,
            )
            return StatusReportMatch(message_id, part, part_status, message_status, changed)
    conn.execute(
        "INSERT INTO orphan_reports (modem_id, mr, recipient, status, received_at, discharge)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            report.modem_id,
            mr,
            report.recipient,
            report.status,
            received_ms,
            opt_ms(report.discharge_time),
        ),
    )
    return None


def apply_orphans(
    conn: sqlite3.Connection,
    state: WriterState,
    options: StoreOptions,
    *,
    message_seq: int,
    part: int,
    modem_id: str,
    mr: int,
    to: str,
    now_ms: int,
) -> MessageStatus | None:
    """Apply a report that arrived before this part was recorded as sent."""
    oldest = now_ms - int(options.orphan_report_ttl.total_seconds() * 1000)
    rows = conn.execute(
        "SELECT id, recipient, status, received_at FROM orphan_reports WHERE modem_id = ?"
        " AND mr = ? AND received_at >= ? ORDER BY id",
        (modem_id, mr, oldest),
    ).fetchall()
    result: MessageStatus | None = None
    for orphan_id, recipient, tp_st, received_at in rows:
        if not same_recipient(to, recipient):
            continue
        conn.execute("DELETE FROM orphan_reports WHERE id = ?", (orphan_id,))
        _part_status, result, _changed = _apply(
            conn,
            state,
            options,
            message_seq=message_seq,
            part=part,
            to=to,
            report_modem=modem_id,
            tp_st=tp_st,
            at_ms=received_at,
            now_ms=now_ms,
        )
        if part_status_for(tp_st) is not PartStatus.SENT:
            break
    return result

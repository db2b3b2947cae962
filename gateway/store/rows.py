"""Conversions between SQLite rows and the store's models (milliseconds <-> UTC datetimes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .models import (
    Category,
    Lane,
    Message,
    MessageError,
    MessageStatus,
    Part,
    PartStatus,
    Transition,
)


def to_ms(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("naive datetime given to the store; use timezone-aware UTC times")
    return int(at.timestamp() * 1000)


def opt_ms(at: datetime | None) -> int | None:
    return None if at is None else to_ms(at)


STATUS_BY_VALUE = {s.value: s for s in MessageStatus}  # an Enum call by value ~1 us; this 50 ns


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def opt_dt(ms: int | None) -> datetime | None:
    return None if ms is None else from_ms(ms)


MESSAGE_COLUMNS = (
    "seq, id, to_number, text, encoding, segments, lane, sender, category, status, uncertain,"
    " attempts, modem_id, send_at, expires_at, error_code, error_class, error_detail,"
    " status_callback, metadata, api_key, idempotency_key, pool, carrier, created_at, updated_at"
)


def message_from_row(row: tuple[Any, ...]) -> Message:
    (
        _seq,
        id_,
        to,
        text,
        encoding,
        segments,
        lane,
        sender,
        category,
        status,
        uncertain,
        attempts,
        modem_id,
        send_at,
        expires_at,
        error_code,
        error_class,
        error_detail,
        status_callback,
        metadata,
        api_key,
        idempotency_key,
        pool,
        carrier,
        created_at,
        updated_at,
    ) = row
    error = None
    if error_code is not None or error_class is not None or error_detail is not None:
        error = MessageError(error_code, error_class, error_detail)
    return Message(
        id=id_,
        to=to,
        text=text,
        encoding=encoding,
        segments=segments,
        lane=Lane.from_rank(lane),
        sender=sender,
        category=Category(category) if category else None,
        status=MessageStatus(status),
        uncertain=bool(uncertain),
        attempts=attempts,
        modem_id=modem_id,
        send_at=opt_dt(send_at),
        expires_at=opt_dt(expires_at),
        error=error,
        status_callback=status_callback,
        metadata=json.loads(metadata) if metadata else None,
        api_key=api_key,
        idempotency_key=idempotency_key,
        pool=pool,
        carrier=carrier,
        created_at=from_ms(created_at),
        updated_at=from_ms(updated_at),
    )


PART_COLUMNS = "seq, status, modem_id, mr, pdu, tpdu_length, sent_at, report_status, report_at"


def part_from_row(message_id: str, concat_ref: int | None, row: tuple[Any, ...]) -> Part:
    seq, status, modem_id, mr, pdu, tpdu_length, sent_at, report_status, report_at = row
    return Part(
        message_id=message_id,
        seq=seq,
        status=PartStatus(status),
        concat_ref=concat_ref,
        modem_id=modem_id,
        mr=mr,
        pdu=pdu,
        tpdu_length=tpdu_length,
        sent_at=opt_dt(sent_at),
        report_status=report_status,
        report_at=opt_dt(report_at),
    )


TRANSITION_COLUMNS = (
    "t.id, m.id, t.from_status, t.to_status, t.at, t.modem_id, t.error_code, t.error_class,"
    " t.detail"
)


def transition_from_row(row: tuple[Any, ...]) -> Transition:
    tid, message_id, from_status, to_status, at, modem_id, code, error_class, detail = row
    return Transition(
        id=tid,
        message_id=message_id,
        from_status=STATUS_BY_VALUE[from_status] if from_status else None,
        to_status=STATUS_BY_VALUE[to_status],
        at=from_ms(at),
        modem_id=modem_id,
        error_code=code,
        error_class=error_class,
        detail=detail,
    )

"""What each event says, in each format: pure functions from the store's feeds to outbox rows.

Three event types: `message.status` (every status change after the first, as Twilio does:
the caller already knows `queued` from the API's answer), `message.inbound` (a complete, or
timed-out incomplete, received SMS) and `modem.health` (a modem changed state). They go to
every enabled endpoint subscribed to the type, in the endpoint's format, and
`message.status` also to a message's own `status_callback`, in the format of the API that
accepted it (JSON for `/api/v1`, a form for Twilio, a GET of the `dlr-url` for Kannel).

The functions run inside the store's writer transaction, so they only compute.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from gateway.store.api_models import (
    InboundFeedRow,
    OutboxEntry,
    TransitionFeedRow,
    WebhookEndpoint,
)
from gateway.store.models import InboundMessage

from .compat import (
    API_VERSION,
    callback_meta,
    expand_dlr_url,
    kannel_dlr,
    kannel_values,
    public_metadata,
    sid,
    twilio_error,
    twilio_status,
)

MESSAGE_STATUS = "message.status"
MESSAGE_INBOUND = "message.inbound"
MODEM_HEALTH = "modem.health"
EVENT_TYPES: tuple[str, ...] = (MESSAGE_STATUS, MESSAGE_INBOUND, MODEM_HEALTH)

FORMAT_STANDARD = "standard"
FORMAT_TWILIO = "twilio"
FORMAT_KANNEL = "kannel"
ENDPOINT_FORMATS: tuple[str, ...] = (FORMAT_STANDARD, FORMAT_TWILIO)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def envelope(event_type: str, at: datetime, data: Mapping[str, Any]) -> str:
    """The Standard Webhooks payload shape: type, timestamp, data."""
    return _dumps({"type": event_type, "timestamp": _iso(at), "data": data})


def _pairs(fields: Sequence[tuple[str, str | None]]) -> str:
    return _dumps([[k, v] for k, v in fields if v is not None])


# --- message.status ---------------------------------------------------------------------------


def status_data(row: TransitionFeedRow) -> dict[str, Any]:
    error = None
    if row.error_code or row.error_class or row.detail:
        error = {"code": row.error_code, "class": row.error_class, "detail": row.detail}
    return {
        "id": row.message_id,
        "status": row.to_status.value,
        "previous_status": row.from_status.value if row.from_status else None,
        "to": row.to,
        "modem_id": row.modem_id,
        "error": error,
        "at": _iso(row.at),
        "metadata": public_metadata(row.metadata),
    }


def twilio_status_fields(row: TransitionFeedRow) -> str:
    meta = callback_meta(row.metadata)
    code, _message = twilio_error(row.to_status, row.error_code)
    status = twilio_status(row.to_status)
    return _pairs([
        ("MessageSid", sid(row.message_id)),
        ("SmsSid", sid(row.message_id)),
        ("AccountSid", row.api_key),
        ("From", str(meta.get("from") or "")),
        ("To", row.to),
        ("MessageStatus", status),
        ("SmsStatus", status),
        ("ApiVersion", API_VERSION),
        ("ErrorCode", None if code is None else str(code)),
    ])


def _status_event_id(row: TransitionFeedRow) -> str:
    return f"evt_{row.message_id}_{row.transition_id}"


def _own_callback(row: TransitionFeedRow, event_id: str) -> OutboxEntry | None:
    if not row.status_callback:
        return None
    meta = callback_meta(row.metadata)
    fmt = str(meta.get("format") or FORMAT_STANDARD)
    dedupe = f"{event_id}|callback"
    if fmt == FORMAT_KANNEL:
        dlr = kannel_dlr(row.to_status, row.error_code)
        mask = meta.get("mask")
        if dlr is None or not isinstance(mask, int) or not mask & dlr[0]:
            return None
        url = expand_dlr_url(row.status_callback, kannel_values(
            dlr_type=dlr[0], reply=dlr[1], message_id=row.message_id, to=row.to,
            sender=str(meta.get("from") or ""), at=row.at, modem_id=row.modem_id,
        ))
        return OutboxEntry(dedupe, event_id, MESSAGE_STATUS, None, url, FORMAT_KANNEL, "{}")
    if fmt == FORMAT_TWILIO:
        return OutboxEntry(dedupe, event_id, MESSAGE_STATUS, None, row.status_callback,
                           FORMAT_TWILIO, twilio_status_fields(row), signer=row.api_key)
    return OutboxEntry(dedupe, event_id, MESSAGE_STATUS, None, row.status_callback,
                       FORMAT_STANDARD, envelope(MESSAGE_STATUS, row.at, status_data(row)),
                       signer=row.api_key)


def status_entries(
    rows: Sequence[TransitionFeedRow], endpoints: Sequence[WebhookEndpoint]
) -> list[OutboxEntry]:
    subscribed = [e for e in endpoints if MESSAGE_STATUS in e.events]
    out: list[OutboxEntry] = []
    for row in rows:
        if row.from_status is None:
            continue  # the first status is the API's answer, not a callback
        event_id = _status_event_id(row)
        own = _own_callback(row, event_id)
        if own is not None:
            out.append(own)
        if not subscribed:
            continue
        standard: str | None = None
        for endpoint in subscribed:
            signer: str | None = None
            if endpoint.format == FORMAT_TWILIO:
                payload = twilio_status_fields(row)
                signer = endpoint.api_key
            else:
                standard = standard or envelope(MESSAGE_STATUS, row.at, status_data(row))
                payload = standard
            out.append(OutboxEntry(f"{event_id}|{endpoint.id}", event_id, MESSAGE_STATUS,
                                   endpoint.id, endpoint.url, endpoint.format, payload,
                                   signer=signer))
    return out


# --- message.inbound --------------------------------------------------------------------------


def inbound_data(message: InboundMessage, to: str | None) -> dict[str, Any]:
    return {
        "id": message.id,
        "from": message.sender,
        "to": to,
        "modem_id": message.modem_id,
        "text": message.text,
        "encoding": message.encoding,
        "received_at": _iso(message.received_at),
        "sent_at": _iso(message.smsc_timestamp),
        "complete": message.complete,
        "parts_expected": message.parts_expected,
        "parts_received": message.parts_received,
        "missing": list(message.missing),
    }


def twilio_inbound_fields(message: InboundMessage, to: str | None, account: str) -> str:
    return _pairs([
        ("MessageSid", sid(message.id)),
        ("SmsSid", sid(message.id)),
        ("SmsMessageSid", sid(message.id)),
        ("AccountSid", account),
        ("From", message.sender),
        ("To", to or message.modem_id),
        ("Body", message.text),
        ("NumMedia", "0"),
        ("NumSegments", str(message.parts_received)),
        ("SmsStatus", "received"),
        ("ApiVersion", API_VERSION),
    ])


def inbound_builder(
    msisdns: Mapping[str, str],
) -> Callable[[Sequence[InboundFeedRow], Sequence[WebhookEndpoint]], list[OutboxEntry]]:
    """`msisdns`: modem id -> the SIM's own number, for the `To` of each message."""

    def build(rows: Sequence[InboundFeedRow], endpoints: Sequence[WebhookEndpoint]
              ) -> list[OutboxEntry]:
        subscribed = [e for e in endpoints if MESSAGE_INBOUND in e.events]
        out: list[OutboxEntry] = []
        if not subscribed:
            return out
        for row in rows:
            message = row.message
            if message.encoding == "undecodable":
                continue
            to = msisdns.get(message.modem_id)
            event_id = f"evt_in_{message.id}"
            for endpoint in subscribed:
                if endpoint.format == FORMAT_TWILIO:
                    payload = twilio_inbound_fields(message, to, endpoint.api_key)
                    signer: str | None = endpoint.api_key
                else:
                    payload = envelope(MESSAGE_INBOUND, message.received_at,
                                       inbound_data(message, to))
                    signer = None
                out.append(OutboxEntry(f"{event_id}|{endpoint.id}", event_id, MESSAGE_INBOUND,
                                       endpoint.id, endpoint.url, endpoint.format, payload,
                                       signer=signer))
        return out

    return build


# --- modem.health -----------------------------------------------------------------------------


def health_builder(
    events: Sequence[tuple[str, datetime, Mapping[str, Any]]],
) -> Callable[[Sequence[WebhookEndpoint]], list[OutboxEntry]]:
    """`events`: (event id, time, data) for each modem state change."""

    def build(endpoints: Sequence[WebhookEndpoint]) -> list[OutboxEntry]:
        subscribed = [e for e in endpoints if MODEM_HEALTH in e.events]
        out: list[OutboxEntry] = []
        for event_id, at, data in events:
            payload = envelope(MODEM_HEALTH, at, data)
            out.extend(
                OutboxEntry(f"{event_id}|{e.id}", event_id, MODEM_HEALTH, e.id, e.url,
                            FORMAT_STANDARD, payload)
                for e in subscribed
            )
        return out

    return build


__all__ = [
    "ENDPOINT_FORMATS",
    "EVENT_TYPES",
    "FORMAT_KANNEL",
    "FORMAT_STANDARD",
    "FORMAT_TWILIO",
    "MESSAGE_INBOUND",
    "MESSAGE_STATUS",
    "MODEM_HEALTH",
    "envelope",
    "health_builder",
    "inbound_builder",
    "inbound_data",
    "status_data",
    "status_entries",
]

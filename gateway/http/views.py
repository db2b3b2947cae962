"""Store records -> the JSON the API answers with (the shapes `schemas.py` declares).

Plain dict building: at thousands of answers a second, validating our own output through
pydantic again would cost more than the rest of the request; the schema tests check the shapes.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pydantic_core import to_json

from gateway.modem_status import ModemStatus
from gateway.numbers import NumberLookup
from gateway.store.api_models import DeliveryRecord, WebhookEndpoint
from gateway.store.models import InboundMessage, Message, MessageDetail, Part, Transition
from gateway.webhooks.compat import public_metadata


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat(timespec="milliseconds")


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON. pydantic-core's serializer (a dependency already) writes the same
    JSON as `json.dumps(..., ensure_ascii=False, separators=(",", ":"))` (floats may be
    spelled differently) in a quarter of the time: a 10,000-message batch answer is 7 MB."""
    return to_json(data)


def message(m: Message) -> dict[str, Any]:
    error = None
    if m.error is not None:
        error = {"code": m.error.code, "class": m.error.error_class, "detail": m.error.detail}
    return {
        "id": m.id,
        "status": m.status.value,
        "to": m.to,
        "text": m.text,
        "segments": m.segments,
        "encoding": m.encoding,
        "priority": m.lane.value,
        "category": m.category.value if m.category else None,
        "send_at": iso(m.send_at),
        "expires_at": iso(m.expires_at),
        "status_callback": m.status_callback,
        "metadata": public_metadata(m.metadata),
        "uncertain": m.uncertain,
        "attempts": m.attempts,
        "modem_id": m.modem_id,
        "error": error,
        "created_at": iso(m.created_at),
        "updated_at": iso(m.updated_at),
    }


def number(lookup: NumberLookup | None) -> dict[str, Any] | None:
    if lookup is None:
        return None
    return {
        "input": lookup.input,
        "e164": lookup.e164,
        "valid": lookup.valid,
        "possible": lookup.possible,
        "number_type": lookup.number_type.value,
        "region": lookup.region,
        "country_code": lookup.country_code,
        "carrier": lookup.carrier,
        "time_zones": list(lookup.time_zones),
        "short_code": lookup.short_code,
        "reachability": lookup.reachability.value if lookup.reachability else None,
        "reachability_reason": lookup.reachability_reason,
        "can_receive_sms": lookup.can_receive_sms,
        "reason": lookup.reason,
    }


def summary(m: Message, *, replayed: bool = False) -> dict[str, Any]:
    """What a batch answers for each accepted message (GET the message for the rest)."""
    return {
        "id": m.id,
        "status": m.status.value,
        "to": m.to,
        "segments": m.segments,
        "encoding": m.encoding,
        "replayed": replayed,
    }


def accepted(m: Message, lookup: NumberLookup | None, *, replayed: bool = False
             ) -> dict[str, Any]:
    out = message(m)
    out["number"] = number(lookup)
    out["replayed"] = replayed
    return out


def part(p: Part) -> dict[str, Any]:
    return {
        "seq": p.seq,
        "status": p.status.value,
        "modem_id": p.modem_id,
        "mr": p.mr,
        "concat_ref": p.concat_ref,
        "sent_at": iso(p.sent_at),
        "report_status": p.report_status,
        "report_at": iso(p.report_at),
    }


def transition(t: Transition) -> dict[str, Any]:
    return {
        "from_status": t.from_status.value if t.from_status else None,
        "to_status": t.to_status.value,
        "at": iso(t.at),
        "modem_id": t.modem_id,
        "error_code": t.error_code,
        "error_class": t.error_class,
        "detail": t.detail,
    }


def detail(d: MessageDetail) -> dict[str, Any]:
    out = message(d.message)
    out["parts"] = [part(p) for p in d.parts]
    out["history"] = [transition(t) for t in d.history]
    return out


def inbound(m: InboundMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "modem_id": m.modem_id,
        "from": m.sender,
        "text": m.text,
        "encoding": m.encoding,
        "sent_at": iso(m.smsc_timestamp),
        "received_at": iso(m.received_at),
        "complete": m.complete,
        "parts_expected": m.parts_expected,
        "parts_received": m.parts_received,
        "missing": list(m.missing),
    }


def modem(s: ModemStatus, *, limits: dict[str, int | None], paused: bool) -> dict[str, Any]:
    health = s.health
    return {
        "id": s.modem_id,
        "path": s.path,
        "state": s.state.value,
        "since": iso(s.since),
        "group": s.group,
        "identity": asdict(s.identity) if s.identity else None,
        "operator": health.operator_name if health else None,
        "registration": health.registration if health else None,
        "registered": health.registered if health else None,
        "roaming": health.roaming if health else None,
        "signal_dbm": health.signal_dbm if health else None,
        "sim_state": str(health.sim_state) if health else None,
        "storage_used": health.storage_used if health else None,
        "storage_total": health.storage_total if health else None,
        "counters": dict(s.counters),
        "limits": limits,
        "last_error": s.last_error,
        "quarantined_until": iso(s.quarantined_until),
        "paused": paused,
        "history": [change.as_json() for change in s.history],
    }


def webhook(e: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": e.id,
        "url": e.url,
        "events": list(e.events),
        "format": e.format,
        "description": e.description,
        "enabled": e.enabled,
        "disabled_reason": e.disabled_reason,
        "created_at": iso(e.created_at),
    }


def delivery(d: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": d.id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "state": d.state,
        "attempts": d.attempts,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "next_attempt_at": iso(d.next_attempt_at),
        "created_at": iso(d.created_at),
        "updated_at": iso(d.updated_at),
    }


__all__ = [
    "accepted",
    "delivery",
    "detail",
    "dumps",
    "inbound",
    "iso",
    "message",
    "modem",
    "number",
    "part",
    "summary",
    "transition",
    "webhook",
]

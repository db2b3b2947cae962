"""Events: the log of what happened (triggered by apps, raised by rules, keywords, surveys and
handoffs) and the bindings that turn an app's event into a text.

`POST /api/v1/events {"type": "call.abandoned", "to": "+49...", "fields": {...}}` fires the
template bound to the type (`[messaging.events]` or `PUT /api/v1/event-bindings/{type}`).
Events the gateway raises (`callback.requested`, `survey.answered`, `conversation.handoff`,
`contact.opted_out`, ...) are recorded in `msg_events` and, in the same transaction, put in the
webhook outbox for every endpoint subscribed to the type or to `messaging.*` (every event of
this module, including the types rules raise), signed and retried like every other webhook; a
rule's own `webhook` URL gets one too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.store.api_models import OutboxEntry, WebhookEndpoint
from gateway.store.models import Category, Lane
from gateway.store.sqlite_api import fanout_endpoints, insert_entries
from gateway.webhooks.events import FORMAT_STANDARD, envelope

from .config import EventBinding, MessagingConfig
from .db import Runner, dumps, from_ms, loads, new_id

# Event types the gateway raises itself.
OPTED_OUT = "contact.opted_out"
OPTED_IN = "contact.opted_in"
HANDOFF = "conversation.handoff"
SURVEY_ANSWERED = "survey.answered"
RAISED_TYPES = (OPTED_OUT, OPTED_IN, HANDOFF, SURVEY_ANSWERED)


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    source: str
    number: str | None
    data: Mapping[str, Any]
    inbound_id: str | None
    message_id: str | None
    at: datetime

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "source": self.source, "number": self.number,
                "data": dict(self.data), "inbound_id": self.inbound_id,
                "message_id": self.message_id, "at": self.at.isoformat(timespec="milliseconds")}


ALL_MESSAGING = "messaging.*"  # a subscription to every event of this module


def subscribed(endpoint: WebhookEndpoint, event_type: str) -> bool:
    for wanted in endpoint.events:
        if wanted in (event_type, "*", ALL_MESSAGING):
            return True
        if wanted.endswith(".*") and event_type.startswith(wanted[:-1]):
            return True
    return False


def record_event(conn: sqlite3.Connection, event: Event, now_ms: int, *,
                 webhook: str | None = None, signer: str | None = None) -> Event:
    """Inside a writer unit: log the event and queue its webhooks (idempotent by id)."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO msg_events (id, type, source, number, data, inbound_id,"
        " message_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (event.id, event.type, event.source, event.number, dumps(dict(event.data)),
         event.inbound_id, event.message_id, now_ms),
    )
    if cur.rowcount == 0:
        return event
    payload = envelope(event.type, event.at, event.json())

    def build(endpoints: Sequence[WebhookEndpoint]) -> list[OutboxEntry]:
        return [
            OutboxEntry(f"{event.id}|{e.id}", event.id, event.type, e.id, e.url,
                        FORMAT_STANDARD, payload)
            for e in endpoints
            if e.format == FORMAT_STANDARD and subscribed(e, event.type)
        ]

    fanout_endpoints(conn, build, now_ms)
    if webhook:
        insert_entries(conn, [OutboxEntry(f"{event.id}|rule", event.id, event.type, None,
                                          webhook, FORMAT_STANDARD, payload, signer=signer)],
                       now_ms)
    return event


def make_event(event_type: str, source: str, at: datetime, *, number: str | None = None,
               data: Mapping[str, Any] | None = None, inbound_id: str | None = None,
               message_id: str | None = None, event_id: str | None = None) -> Event:
    return Event(event_id or new_id("evt_"), event_type, source, number, dict(data or {}),
                 inbound_id, message_id, at)


def _event(row: tuple[Any, ...]) -> Event:
    return Event(row[0], row[1], row[2], row[3], loads(row[4]) or {}, row[5], row[6],
                 from_ms(row[7]))


@dataclass(frozen=True, slots=True)
class Binding:
    type: str
    template: str
    category: Category
    lane: Lane
    source: str  # config | api


class EventLog:
    def __init__(self, runner: Runner, config: MessagingConfig) -> None:
        self._runner = runner
        self._config = config

    async def find(self, *, event_type: str | None = None, number: str | None = None,
                   since: datetime | None = None, limit: int = 100) -> list[Event]:
        def unit(conn: sqlite3.Connection) -> list[Event]:
            where, params = ["1 = 1"], []
            if event_type:
                where.append("type = ?")
                params.append(event_type)
            if number:
                where.append("number = ?")
                params.append(number)
            if since is not None:
                where.append("at >= ?")
                params.append(str(int(since.timestamp() * 1000)))
            rows = conn.execute(
                "SELECT id, type, source, number, data, inbound_id, message_id, at"
                f" FROM msg_events WHERE {' AND '.join(where)} ORDER BY at DESC, id DESC"
                " LIMIT ?", (*params, limit)).fetchall()
            return [_event(r) for r in rows]

        return await self._runner.run_in_reader(unit)

    async def record(self, event: Event, now_ms: int) -> Event:
        return await self._runner.run_in_writer(lambda c: record_event(c, event, now_ms))

    # --- bindings ----------------------------------------------------------------------------

    def _configured(self, entry: EventBinding) -> Binding:
        return Binding(entry.type, entry.template, entry.category, entry.lane, "config")

    async def binding(self, event_type: str) -> Binding | None:
        entry = self._config.binding(event_type)
        if entry is not None:
            return self._configured(entry)
        row = await self._runner.run_in_reader(lambda c: c.execute(
            "SELECT type, template, category, lane FROM msg_event_bindings WHERE type = ?",
            (event_type,)).fetchone())
        if row is None:
            return None
        return Binding(row[0], row[1], Category(row[2]), Lane(row[3]), "api")

    async def bindings(self) -> list[Binding]:
        rows = await self._runner.run_in_reader(lambda c: c.execute(
            "SELECT type, template, category, lane FROM msg_event_bindings ORDER BY type"
        ).fetchall())
        found = {e.type: self._configured(e) for e in self._config.events}
        for r in rows:
            found.setdefault(r[0], Binding(r[0], r[1], Category(r[2]), Lane(r[3]), "api"))
        return [found[k] for k in sorted(found)]

    async def bind(self, binding: Binding, now_ms: int) -> Binding:
        if self._config.binding(binding.type) is not None:
            raise ValueError(f"event {binding.type!r} is bound in the configuration")
        await self._runner.run_in_writer(lambda c: c.execute(
            "INSERT INTO msg_event_bindings (type, template, category, lane, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (type) DO UPDATE SET"
            " template = excluded.template, category = excluded.category,"
            " lane = excluded.lane, updated_at = excluded.updated_at",
            (binding.type, binding.template, binding.category.value, binding.lane.value,
             now_ms, now_ms)))
        return Binding(binding.type, binding.template, binding.category, binding.lane, "api")

    async def unbind(self, event_type: str) -> bool:
        removed: int = await self._runner.run_in_writer(lambda c: c.execute(
            "DELETE FROM msg_event_bindings WHERE type = ?", (event_type,)).rowcount)
        return removed > 0


__all__ = ["ALL_MESSAGING", "HANDOFF", "OPTED_IN", "OPTED_OUT", "RAISED_TYPES", "SURVEY_ANSWERED",
           "Binding", "Event", "EventLog", "make_event", "record_event", "subscribed"]

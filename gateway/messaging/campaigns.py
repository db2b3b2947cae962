"""Campaigns: a template and a list of recipients (CSV upload or JSON), sent in the `bulk` lane.

Creating one validates every row up front and answers with a per-row report: an invalid
number, a duplicate, a missing template field, an opted-out recipient, one without marketing
consent or over a frequency cap. Every other row becomes a message, queued through the one
door (`Submitter`, so the policy gate applies) in batches of `campaign_chunk` with the store's
batch enqueue. The campaign's own pace is written into the messages' `send_at`: at most `rate`
per second from `start_at`, and only inside the campaign's time window in each recipient's
local time; the scheduler promotes them as they fall due, and per-SIM limits still apply.

Pause cancels the messages not yet sent (they are remembered); resume queues them again from
now at the campaign's pace; cancel ends the campaign. Progress (queued, sent, delivered,
failed, replies, opt-outs) is read from the messages themselves, so it is never stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import functools
import io
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any

from gateway.numbers import NumberPolicy
from gateway.store.errors import NotCancelableError, NotFoundError
from gateway.store.models import Category, Lane
from gateway.submit import OutgoingMessage, Refused

from .config import MessagingConfig
from .contacts import get_contacts
from .db import META, Runner, chunks, from_ms, marks, new_id, to_ms
from .lookups import quick_e164
from .policy import next_allowed, zones_for_number
from .processor import SubmitFn
from .templates import Template, TemplateError

NUMBER_COLUMNS = ("number", "to", "phone", "mobile", "msisdn")
MAX_RECIPIENTS = 200_000
ACTIVE = ("queued", "scheduled", "sending")


class CampaignError(Exception):
    def __init__(self, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.code = code  # not_found | conflict | invalid
        self.detail = detail
        self.field = field


@dataclass(frozen=True, slots=True)
class RowProblem:
    row: int
    number: str
    problem: str  # invalid_number | duplicate | missing_field | opted_out | no_consent | ...
    detail: str

    def json(self) -> dict[str, Any]:
        return {"row": self.row, "number": self.number, "problem": self.problem,
                "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Window:
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> Window:
        try:
            first, second = (part.strip() for part in text.split("-"))
            window = cls(time.fromisoformat(first), time.fromisoformat(second))
        except ValueError:
            raise CampaignError("invalid", f"window {text!r}: expected HH:MM-HH:MM",
                                "window") from None
        if window.start == window.end:
            raise CampaignError("invalid", "window: the start and the end are the same",
                                "window")
        return window

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    name: str
    template: str
    category: Category
    status: str
    rate: float | None
    window: Window | None
    start_at: datetime | None
    total: int
    accepted: int
    refused: int
    created_at: datetime
    updated_at: datetime

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "template": self.template,
                "category": self.category.value, "status": self.status, "rate": self.rate,
                "window": str(self.window) if self.window else None,
                "start_at": self.start_at.isoformat() if self.start_at else None,
                "total": self.total, "accepted": self.accepted, "refused": self.refused,
                "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


@dataclass(frozen=True, slots=True)
class Progress:
    campaign: Campaign
    counts: Mapping[str, int] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return {**self.campaign.json(), "progress": dict(self.counts)}


_COLUMNS = ("id, name, template, category, status, rate, window_start, window_end, start_at,"
            " total, accepted, refused, created_at, updated_at")


def _campaign(row: tuple[Any, ...]) -> Campaign:
    window = Window(time.fromisoformat(row[6]), time.fromisoformat(row[7])) if row[6] else None
    return Campaign(row[0], row[1], row[2], Category(row[3]), row[4], row[5], window,
                    None if row[8] is None else from_ms(row[8]), row[9], row[10], row[11],
                    from_ms(row[12]), from_ms(row[13]))


def parse_csv(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None:
        raise CampaignError("invalid", "the file is empty", "recipients")
    header = {h.strip().lower() for h in reader.fieldnames if h}
    if not header & set(NUMBER_COLUMNS):
        raise CampaignError("invalid", "the first line needs a 'number' column", "recipients")
    rows: list[dict[str, str]] = []
    for raw in reader:
        rows.append({(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()
                     if isinstance(v, str)})
        if len(rows) > MAX_RECIPIENTS:
            raise CampaignError("invalid", f"at most {MAX_RECIPIENTS} recipients", "recipients")
    return rows


def _number_of(row: Mapping[str, Any]) -> str:
    for name in NUMBER_COLUMNS:
        value = row.get(name)
        if value:
            return str(value)
    return ""


class _Pace:
    """Send times for a campaign: at most `rate` a second from `start`, each inside the
    window in its recipient's local time."""

    def __init__(self, start: datetime, rate: float | None, window: Window | None,
                 default_zone: str) -> None:
        self._at = start
        self._step = timedelta(seconds=1 / rate) if rate else None
        self._window = window
        self._default = default_zone

    def next(self, number: str, zone: str | None) -> datetime:
        send_at = self._at
        if self._window is not None:
            zones = (zone,) if zone else zones_for_number(number) or (self._default,)
            send_at = next_allowed(send_at, zones, self._window.end, self._window.start)
        if self._step is not None:
            self._at = send_at + self._step
        return send_at


class Campaigns:
    def __init__(self, runner: Runner, store: Any, config: MessagingConfig,
                 numbers: Callable[[], NumberPolicy], clock: Callable[[], datetime]) -> None:
        self._runner = runner
        self._store = store
        self.config = config
        self._numbers = numbers
        self._clock = clock
        self._submit: SubmitFn | None = None

    def bind(self, submit: SubmitFn) -> None:
        self._submit = submit

    async def get(self, campaign_id: str) -> Campaign | None:
        row = await self._runner.run_in_reader(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM msg_campaigns WHERE id = ?", (campaign_id,)).fetchone())
        return None if row is None else _campaign(row)

    async def recent(self, limit: int = 100) -> list[Campaign]:
        rows = await self._runner.run_in_reader(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM msg_campaigns ORDER BY created_at DESC LIMIT ?",
            (limit,)).fetchall())
        return [_campaign(r) for r in rows]

    # --- create --------------------------------------------------------------------------------

    async def create(self, *, name: str, template: Template,
                     recipients: Sequence[Mapping[str, Any]],
                     category: Category | None = None, rate: float | None = None,
                     window: Window | None = None, start_at: datetime | None = None,
                     api_key: str = "") -> tuple[Campaign, list[RowProblem]]:
        if self._submit is None:
            raise CampaignError("unavailable", "the gateway is not accepting messages")
        if not recipients:
            raise CampaignError("invalid", "no recipients", "recipients")
        if len(recipients) > MAX_RECIPIENTS:
            raise CampaignError("invalid", f"at most {MAX_RECIPIENTS} recipients", "recipients")
        if rate is not None and not 0.001 <= rate <= 1000:
            raise CampaignError("invalid", "rate is messages per second, 0.001 to 1000", "rate")
        now = self._clock()
        campaign_id = new_id("cmp_")
        category = category or template.category
        compiled = template.compiled
        policy = self._numbers()
        problems: list[RowProblem] = []
        valid: list[tuple[int, str, Mapping[str, Any]]] = []
        seen: set[str] = set()
        for index, row in enumerate(recipients, start=1):
            given = _number_of(row)
            e164 = quick_e164(given, policy.default_region) if given else None
            if e164 is None:
                problems.append(RowProblem(index, given, "invalid_number",
                                           "not a phone number" if given else "no number"))
                continue
            if e164 in seen:
                problems.append(RowProblem(index, given, "duplicate",
                                           "the number is in the list more than once"))
                continue
            seen.add(e164)
            valid.append((index, e164, row))
        start = max(start_at or now, now)
        pace = _Pace(start, rate, window, self.config.default_time_zone)
        meta = {META: {"campaign": campaign_id, "template": template.name, "kind": "campaign"}}
        campaign_row = (campaign_id, name, template.name, category.value, "running", rate,
                        f"{window.start:%H:%M}" if window else None,
                        f"{window.end:%H:%M}" if window else None,
                        to_ms(start_at) if start_at else None, len(recipients), 0, 0,
                        api_key, to_ms(now), to_ms(now))
        await self._runner.run_in_writer(lambda c: c.execute(
            "INSERT INTO msg_campaigns (id, name, template, category, status, rate,"
            " window_start, window_end, start_at, total, accepted, refused, api_key,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            campaign_row))
        accepted = 0
        rows: list[tuple[Any, ...]] = [
            (campaign_id, p.row, p.number, "refused", None, p.problem, p.detail)
            for p in problems]
        # Rendered and queued one chunk at a time: memory stays flat however long the list.
        for part in chunks(valid, self.config.campaign_chunk):
            contacts = {}
            if compiled.fields:
                contacts = await self._runner.run_in_reader(functools.partial(
                    get_contacts, numbers=[n for _i, n, _r in part]))
            batch: list[tuple[int, str, OutgoingMessage]] = []
            for index, e164, row in part:
                contact = contacts.get(e164)
                values: dict[str, Any] = dict(contact.fields) if contact else {}
                values.update({k: v for k, v in row.items() if v not in (None, "")})
                values.setdefault("brand", self.config.brand)
                try:
                    text = compiled.render(values)
                except TemplateError as exc:
                    problem = RowProblem(index, _number_of(row),
                                         "missing_field" if exc.missing else "template",
                                         exc.detail)
                    problems.append(problem)
                    rows.append((campaign_id, index, e164, "refused", None, problem.problem,
                                 problem.detail))
                    continue
                send_at = pace.next(e164, contact.time_zone if contact else None)
                batch.append((index, e164, OutgoingMessage(
                    to=e164, text=text, lane=Lane.BULK, sender=f"campaign:{campaign_id}",
                    api_key=api_key, category=category,
                    send_at=send_at if send_at > now else None, metadata=meta)))
            results = await self._submit([m for _i, _n, m in batch]) if batch else []
            for (index, e164, _m), result in zip(batch, results, strict=True):
                if isinstance(result, Refused):
                    problems.append(RowProblem(index, e164, result.code, result.reason))
                    rows.append((campaign_id, index, e164, "refused", None, result.code,
                                 result.reason))
                else:
                    accepted += 1
                    rows.append((campaign_id, index, e164, "queued", result.message.id,
                                 None, None))
            await self._insert_rows(rows)
            rows = []
        await self._insert_rows(rows)
        refused = len(recipients) - accepted
        status = "running" if accepted else "completed"
        await self._runner.run_in_writer(lambda c: c.execute(
            "UPDATE msg_campaigns SET accepted = ?, refused = ?, status = ?, updated_at = ?"
            " WHERE id = ?", (accepted, refused, status, to_ms(self._clock()), campaign_id)))
        problems.sort(key=lambda p: p.row)
        campaign = await self.get(campaign_id)
        assert campaign is not None
        return campaign, problems

    async def _insert_rows(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        batch = list(rows)
        await self._runner.run_in_writer(lambda c: c.executemany(
            "INSERT OR REPLACE INTO msg_campaign_rows (campaign_id, row, number, state,"
            " message_id, problem, detail) VALUES (?, ?, ?, ?, ?, ?, ?)", batch))

    # --- progress ------------------------------------------------------------------------------

    async def progress(self, campaign_id: str) -> Progress:
        campaign = await self._must(campaign_id)

        def unit(conn: sqlite3.Connection) -> dict[str, int]:
            counts = {"queued": 0, "sending": 0, "sent": 0, "delivered": 0, "failed": 0,
                      "canceled": 0, "paused": 0, "refused": 0, "replies": 0, "opt_outs": 0}
            for status, n in conn.execute(
                    "SELECT m.status, count(*) FROM msg_campaign_rows r JOIN messages m"
                    " ON m.id = r.message_id WHERE r.campaign_id = ? AND r.state = 'queued'"
                    " GROUP BY m.status", (campaign_id,)):
                key = {"scheduled": "queued", "undelivered": "failed",
                       "expired": "failed"}.get(status, status)
                counts[key] = counts.get(key, 0) + n
            for state, n in conn.execute(
                    "SELECT state, count(*) FROM msg_campaign_rows WHERE campaign_id = ?"
                    " AND state IN ('refused', 'paused', 'canceled') GROUP BY state",
                    (campaign_id,)):
                counts[state] += n
            for kind, n in conn.execute(
                    "SELECT kind, count(*) FROM msg_inbound_log WHERE campaign_id = ?"
                    " GROUP BY kind", (campaign_id,)):
                counts["replies"] += n
                if kind == "stop":
                    counts["opt_outs"] += n
            return counts

        counts = await self._runner.run_in_reader(unit)
        if campaign.status == "running" and not counts["queued"] and not counts["sending"]:
            await self._set_status(campaign_id, "completed", only_from=("running",))
            campaign = replace(campaign, status="completed")
        return Progress(campaign, counts)

    async def problems(self, campaign_id: str, limit: int = 10000) -> list[RowProblem]:
        rows = await self._runner.run_in_reader(lambda c: c.execute(
            "SELECT row, number, problem, detail FROM msg_campaign_rows WHERE campaign_id = ?"
            " AND state = 'refused' ORDER BY row LIMIT ?", (campaign_id, limit)).fetchall())
        return [RowProblem(*r) for r in rows]

    # --- pause, resume, cancel -----------------------------------------------------------------

    async def _set_status(self, campaign_id: str, status: str, *, only_from: Sequence[str]
                          ) -> bool:
        now = to_ms(self._clock())
        changed: int = await self._runner.run_in_writer(lambda c: c.execute(
            f"UPDATE msg_campaigns SET status = ?, updated_at = ? WHERE id = ?"
            f" AND status IN ({marks(len(only_from))})",
            (status, now, campaign_id, *only_from)).rowcount)
        return changed > 0

    async def _unsent(self, campaign_id: str) -> list[tuple[int, str]]:
        return await self._runner.run_in_reader(lambda c: c.execute(
            "SELECT r.row, r.message_id FROM msg_campaign_rows r JOIN messages m"
            " ON m.id = r.message_id WHERE r.campaign_id = ? AND r.state = 'queued'"
            " AND m.status IN ('queued', 'scheduled')", (campaign_id,)).fetchall())

    async def _cancel_unsent(self, campaign_id: str, new_state: str) -> int:
        unsent = await self._unsent(campaign_id)
        stopped: list[tuple[str, str, int]] = []

        async def one(row: int, message_id: str) -> None:
            with contextlib.suppress(NotCancelableError, NotFoundError):
                await self._store.cancel(message_id)
                stopped.append((new_state, campaign_id, row))

        for part in chunks(unsent, 256):
            await asyncio.gather(*(one(r, m) for r, m in part))
        await self._runner.run_in_writer(lambda c: c.executemany(
            "UPDATE msg_campaign_rows SET state = ? WHERE campaign_id = ? AND row = ?", stopped))
        return len(stopped)

    async def pause(self, campaign_id: str) -> Campaign:
        if not await self._set_status(campaign_id, "paused", only_from=("running",)):
            raise await self._conflict(campaign_id, "pause")
        await self._cancel_unsent(campaign_id, "paused")
        return await self._must(campaign_id)

    async def cancel(self, campaign_id: str) -> Campaign:
        if not await self._set_status(campaign_id, "canceled", only_from=("running", "paused")):
            raise await self._conflict(campaign_id, "cancel")
        await self._cancel_unsent(campaign_id, "canceled")
        await self._runner.run_in_writer(lambda c: c.execute(
            "UPDATE msg_campaign_rows SET state = 'canceled' WHERE campaign_id = ?"
            " AND state = 'paused'", (campaign_id,)))
        return await self._must(campaign_id)

    async def resume(self, campaign_id: str) -> Campaign:
        campaign = await self._must(campaign_id)
        if campaign.status != "paused" or self._submit is None:
            raise await self._conflict(campaign_id, "resume")
        rows = await self._runner.run_in_reader(lambda c: c.execute(
            "SELECT r.row, m.to_number, m.text, m.category, m.api_key, m.metadata"
            " FROM msg_campaign_rows r JOIN messages m ON m.id = r.message_id"
            " WHERE r.campaign_id = ? AND r.state = 'paused' ORDER BY r.row",
            (campaign_id,)).fetchall())
        now = self._clock()
        pace = _Pace(now, campaign.rate, campaign.window, self.config.default_time_zone)
        meta = {META: {"campaign": campaign_id, "template": campaign.template,
                       "kind": "campaign", "counted": True}}
        outgoing: list[tuple[int, OutgoingMessage]] = []
        contacts = await self._runner.run_in_reader(
            lambda c: get_contacts(c, [r[1] for r in rows]))
        for row, number, text, category, api_key, _meta in rows:
            contact = contacts.get(number)
            send_at = pace.next(number, contact.time_zone if contact else None)
            outgoing.append((row, OutgoingMessage(
                to=number, text=text, lane=Lane.BULK, sender=f"campaign:{campaign_id}",
                api_key=api_key, category=Category(category) if category else None,
                send_at=send_at if send_at > now else None, metadata=meta)))
        await self._set_status(campaign_id, "running", only_from=("paused",))
        for part in chunks(outgoing, self.config.campaign_chunk):
            results = await self._submit([m for _r, m in part])
            updates = [
                ("refused", None, r.code, r.reason, campaign_id, row)
                if isinstance(r, Refused) else
                ("queued", r.message.id, None, None, campaign_id, row)
                for (row, _m), r in zip(part, results, strict=True)
            ]
            await self._update_rows(updates)
        return await self._must(campaign_id)

    async def _update_rows(self, updates: list[tuple[Any, ...]]) -> None:
        await self._runner.run_in_writer(lambda c: c.executemany(
            "UPDATE msg_campaign_rows SET state = ?, message_id = ?, problem = ?,"
            " detail = ? WHERE campaign_id = ? AND row = ?", updates))

    async def _must(self, campaign_id: str) -> Campaign:
        campaign = await self.get(campaign_id)
        if campaign is None:
            raise CampaignError("not_found", f"no campaign {campaign_id!r}")
        return campaign

    async def _conflict(self, campaign_id: str, action: str) -> CampaignError:
        campaign = await self._must(campaign_id)
        return CampaignError("conflict", f"cannot {action} a campaign that is {campaign.status}")


__all__ = ["Campaign", "CampaignError", "Campaigns", "Progress", "RowProblem", "Window",
           "parse_csv"]

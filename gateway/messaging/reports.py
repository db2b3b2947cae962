"""Delivery statistics by day, SIM, campaign, template or category, as JSON or CSV.

Per group: messages, sent (reached the network), delivered, failed (failed, undelivered,
expired) with the reasons, canceled, pending, delivery rate (delivered / (delivered + failed)),
median time to delivery (from when the message was due to its delivery report), replies and
opt-outs (received messages answering the group's messages), segments and their cost
(`[messaging] price_per_segment`, for what reached the network), and for surveys the answers
and their mean. Everything is read from the store's own records; nothing is counted twice.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from .config import MessagingConfig
from .db import META, Runner, from_ms, loads, to_ms

SENT = frozenset({"sent", "delivered", "undelivered"})
FAILED = frozenset({"failed", "undelivered", "expired"})
PENDING = frozenset({"queued", "scheduled", "sending"})


class GroupBy(StrEnum):
    DAY = "day"
    SIM = "sim"
    CAMPAIGN = "campaign"
    TEMPLATE = "template"
    CATEGORY = "category"


@dataclass(slots=True)
class Row:
    key: str
    messages: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    canceled: int = 0
    pending: int = 0
    segments: int = 0
    billable_segments: int = 0
    replies: int = 0
    opt_outs: int = 0
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    delivery_seconds: list[float] = field(default_factory=list)
    scores: list[int] = field(default_factory=list)

    def add(self, other: Row) -> None:
        """Fold `other`'s figures into this row (the report's total): every field but the key,
        so a figure added to `Row` is totalled without being named here."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, int):
                setattr(self, f.name, mine + theirs)
            elif isinstance(mine, list):
                mine.extend(theirs)
            elif isinstance(mine, dict):
                for k, v in theirs.items():
                    mine[k] = mine.get(k, 0) + v

    def json(self, price: float, currency: str) -> dict[str, Any]:
        finished = self.delivered + self.failed
        return {
            "key": self.key,
            "messages": self.messages,
            "sent": self.sent,
            "delivered": self.delivered,
            "failed": self.failed,
            "failed_by_reason": dict(sorted(self.failed_by_reason.items())),
            "canceled": self.canceled,
            "pending": self.pending,
            "delivery_rate": round(self.delivered / finished, 4) if finished else None,
            "median_delivery_s": round(statistics.median(self.delivery_seconds), 3)
            if self.delivery_seconds else None,
            "replies": self.replies,
            "opt_outs": self.opt_outs,
            "segments": self.segments,
            "cost": round(self.billable_segments * price, 4),
            "currency": currency,
            "survey_answers": len(self.scores),
            "survey_mean": round(statistics.fmean(self.scores), 3) if self.scores else None,
        }


def _reason(error_class: str | None, error_code: str | None, status: str) -> str:
    if error_code:
        return error_code
    if error_class:
        return error_class
    return status


def _key(by: GroupBy, at_ms: int, modem: str | None, category: str | None,
         meta: dict[str, Any]) -> str:
    if by is GroupBy.DAY:
        return from_ms(at_ms).date().isoformat()
    if by is GroupBy.SIM:
        return modem or "(none)"
    if by is GroupBy.CAMPAIGN:
        return str(meta.get("campaign") or "(none)")
    if by is GroupBy.TEMPLATE:
        return str(meta.get("template") or "(none)")
    return category or "(none)"


def build(conn: sqlite3.Connection, by: GroupBy, since_ms: int, until_ms: int,
          default_category: str) -> list[Row]:
    rows: dict[str, Row] = {}

    def row(key: str) -> Row:
        found = rows.get(key)
        if found is None:
            found = rows[key] = Row(key)
        return found

    for (_seq, created, send_at, modem, category, status, error_class, error_code, segments,
         raw_meta, delivered_at) in conn.execute(
            "SELECT m.seq, m.created_at, m.send_at, m.modem_id, m.category, m.status,"
            " m.error_class, m.error_code, m.segments, m.metadata,"
            " (SELECT min(t.at) FROM transitions t WHERE t.message_seq = m.seq"
            "  AND t.to_status = 'delivered')"
            " FROM messages m WHERE m.created_at >= ? AND m.created_at < ?",
            (since_ms, until_ms)):
        meta = (loads(raw_meta) or {}).get(META) if raw_meta else None
        meta = meta if isinstance(meta, dict) else {}
        r = row(_key(by, created, modem, category or default_category, meta))
        r.messages += 1
        r.segments += segments
        if status in SENT:
            r.sent += 1
            r.billable_segments += segments
        if status == "delivered":
            r.delivered += 1
            if delivered_at is not None:
                due = max(created, send_at or created)
                r.delivery_seconds.append(max(delivered_at - due, 0) / 1000)
        elif status in FAILED:
            r.failed += 1
            reason = _reason(error_class, error_code, status)
            r.failed_by_reason[reason] = r.failed_by_reason.get(reason, 0) + 1
        elif status == "canceled":
            r.canceled += 1
        elif status in PENDING:
            r.pending += 1
    for at, modem, kind, category, campaign, template in conn.execute(
            "SELECT l.at, l.modem_id, l.kind, m.category, l.campaign_id, l.template"
            " FROM msg_inbound_log l LEFT JOIN messages m ON m.id = l.in_reply_to"
            " WHERE l.at >= ? AND l.at < ?", (since_ms, until_ms)):
        meta = {"campaign": campaign, "template": template}
        r = row(_key(by, at, modem, category, meta))
        r.replies += 1
        if kind == "stop":
            r.opt_outs += 1
    for at, campaign, template, score, category, modem in conn.execute(
            "SELECT s.at, s.campaign_id, s.template, s.score, m.category, m.modem_id"
            " FROM msg_survey_answers s LEFT JOIN messages m ON m.id = s.message_id"
            " WHERE s.at >= ? AND s.at < ?", (since_ms, until_ms)):
        r = row(_key(by, at, modem, category, {"campaign": campaign, "template": template}))
        r.scores.append(int(score))
    return sorted(rows.values(), key=lambda r: r.key)


CSV_COLUMNS = ("key", "messages", "sent", "delivered", "failed", "delivery_rate",
               "median_delivery_s", "replies", "opt_outs", "segments", "cost", "currency",
               "canceled", "pending", "survey_answers", "survey_mean", "failed_by_reason")


def to_csv(by: GroupBy, rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([by.value if c == "key" else c for c in CSV_COLUMNS])
    for r in rows:
        reasons = ";".join(f"{k}:{v}" for k, v in r["failed_by_reason"].items())
        writer.writerow(["" if r[c] is None else r[c] for c in CSV_COLUMNS[:-1]] + [reasons])
    return out.getvalue()


class Reports:
    def __init__(self, runner: Runner, config: MessagingConfig,
                 clock: Callable[[], datetime]) -> None:
        self._runner = runner
        self.config = config
        self._clock = clock

    async def delivery(self, by: GroupBy, since: datetime | None = None,
                       until: datetime | None = None) -> dict[str, Any]:
        now = self._clock()
        until = until or now + timedelta(seconds=1)
        since = since or (until - timedelta(days=30))
        since_ms, until_ms = to_ms(since), to_ms(until)
        default = self.config.default_category.value
        rows = await self._runner.run_in_reader(
            lambda c: build(c, by, since_ms, until_ms, default))
        price, currency = self.config.price_per_segment, self.config.currency
        items = [r.json(price, currency) for r in rows]
        total = Row("total")
        for r in rows:
            total.add(r)
        return {"group_by": by.value, "since": since.astimezone(UTC).isoformat(),
                "until": until.astimezone(UTC).isoformat(), "rows": items,
                "total": total.json(price, currency)}


__all__ = ["CSV_COLUMNS", "GroupBy", "Reports", "build", "to_csv"]

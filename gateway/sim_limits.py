"""Per-SIM sending limits: messages per minute, per day, unique recipients per month.

Consumer plans are capped and carriers block SIMs that look like bulk senders, so a SIM at a
limit is *skipped* (the scheduler hands it nothing, or only recipients it already wrote to this
month), never failed. Day and month counters live in the store, written by the claim in the same
transaction; this class keeps a mirror in memory so the check costs no query. The per-minute
window is memory only (a sliding 60 s window; after a restart it starts empty). Periods are UTC
calendar days and months.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gateway.store.models import SimUsage


@dataclass(frozen=True, slots=True)
class SimLimits:
    per_minute: int | None = None
    per_day: int | None = None
    unique_recipients_per_month: int | None = None

    @classmethod
    def from_config(cls, limits: object) -> SimLimits:
        """From a `LimitsConfig` (duck-typed to keep this module free of pydantic)."""
        return cls(
            per_minute=getattr(limits, "per_minute", None),
            per_day=getattr(limits, "per_day", None),
            unique_recipients_per_month=getattr(limits, "unique_recipients_per_month", None),
        )


@dataclass(frozen=True, slots=True)
class LimitCheck:
    """`blocked_until`: the SIM may not send before then (None: it may send now).
    `recipients_only`: at the unique-recipients cap, the recipients it may still write to."""

    blocked_until: datetime | None
    reason: str | None
    recipients_only: frozenset[str] | None


def day_key(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


def month_key(at: datetime) -> str:
    return at.strftime("%Y-%m")


@dataclass(slots=True)
class _Usage:
    day: str
    sent_today: int
    month: str
    recipients: set[str]
    minute: deque[datetime] = field(default_factory=deque)


UsageLoader = Callable[[str, str, str], Awaitable[SimUsage]]


class UsageTracker:
    def __init__(self, load: UsageLoader) -> None:
        self._load = load
        self._usage: dict[str, _Usage] = {}

    async def _get(self, modem_id: str, now: datetime) -> _Usage:
        day, month = day_key(now), month_key(now)
        usage = self._usage.get(modem_id)
        if usage is None or usage.month != month:
            stored = await self._load(modem_id, day, month)
            minute = usage.minute if usage is not None else deque()
            usage = _Usage(day, stored.sent_today, month, set(stored.recipients_this_month), minute)
            self._usage[modem_id] = usage
        elif usage.day != day:
            usage.day, usage.sent_today = day, 0
        return usage

    async def check(self, modem_id: str, limits: SimLimits, now: datetime) -> LimitCheck:
        if limits == SimLimits():
            return LimitCheck(None, None, None)
        usage = await self._get(modem_id, now)
        window_start = now - timedelta(minutes=1)
        while usage.minute and usage.minute[0] <= window_start:
            usage.minute.popleft()
        if limits.per_minute is not None and len(usage.minute) >= limits.per_minute:
            until = usage.minute[0] + timedelta(minutes=1)
            return LimitCheck(until, f"at {limits.per_minute} messages per minute", None)
        if limits.per_day is not None and usage.sent_today >= limits.per_day:
            tomorrow = datetime.combine(
                now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo
            )
            return LimitCheck(tomorrow, f"at {limits.per_day} messages today", None)
        cap = limits.unique_recipients_per_month
        if cap is not None and len(usage.recipients) >= cap:
            return LimitCheck(None, f"at {cap} recipients this month", frozenset(usage.recipients))
        return LimitCheck(None, None, None)

    def record(self, modem_id: str, to: str, now: datetime) -> None:
        usage = self._usage.get(modem_id)
        if usage is None:
            return  # no limits configured for this SIM: nothing mirrored
        usage.minute.append(now)
        if usage.day == day_key(now):
            usage.sent_today += 1
        if usage.month == month_key(now):
            usage.recipients.add(to)

    def unrecord(self, modem_id: str, now: datetime) -> None:
        """A released claim gives its slot back (the recipient stays counted)."""
        usage = self._usage.get(modem_id)
        if usage is None:
            return
        if usage.minute:
            usage.minute.pop()
        if usage.day == day_key(now) and usage.sent_today:
            usage.sent_today -= 1

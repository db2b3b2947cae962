"""Traffic figures from the store's transitions feed, kept in memory: what the status page and
the error-rate alert need, without a query over the message tables on every refresh.

- per minute over the last hour: messages sent, delivered and failed (failed, undelivered and
  expired count as failed);
- per modem over the alert window: submits finished and how many failed, by error class;
- per modem: submit latency, from a message's move to `sending` to its move to `sent`;
- the most recent failures with their reason.
"""

from __future__ import annotations

import statistics
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.store.models import MessageStatus, Transition

MINUTES = 60
_FAILED = frozenset({MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.EXPIRED})
_SENDING_KEPT = 4096  # messages in flight whose start time we remember
_LATENCIES_KEPT = 50  # per modem


@dataclass(frozen=True, slots=True)
class Failure:
    message_id: str
    at: datetime
    status: str
    modem_id: str | None
    error_code: str | None
    error_class: str | None
    detail: str | None

    def as_json(self) -> dict[str, str | None]:
        return {
            "id": self.message_id,
            "at": self.at.isoformat(timespec="seconds"),
            "status": self.status,
            "modem_id": self.modem_id,
            "error_code": self.error_code,
            "error_class": self.error_class,
            "reason": self.detail or self.error_class or self.status,
        }


@dataclass(frozen=True, slots=True)
class _Attempt:
    at: datetime
    ok: bool
    error_class: str | None


@dataclass(frozen=True, slots=True)
class ModemTraffic:
    attempts: int
    errors: int
    by_class: dict[str, int]
    latency_s: float | None


class Traffic:
    def __init__(self, *, error_window: timedelta, failures_kept: int = 20) -> None:
        self.error_window = error_window
        self._minutes: dict[int, list[int]] = {}  # epoch minute -> [sent, delivered, failed]
        self._attempts: dict[str, deque[_Attempt]] = {}
        self._sending: OrderedDict[str, datetime] = OrderedDict()
        self._latency: dict[str, deque[float]] = {}
        self.failures: deque[Failure] = deque(maxlen=failures_kept)

    def ingest(self, transitions: Iterable[Transition]) -> None:
        for t in transitions:
            minute = int(t.at.timestamp() // 60)
            if t.to_status is MessageStatus.SENDING:
                self._sending[t.message_id] = t.at
                self._sending.move_to_end(t.message_id)
                while len(self._sending) > _SENDING_KEPT:
                    self._sending.popitem(last=False)
                continue
            if t.to_status is MessageStatus.SENT:
                self._bucket(minute)[0] += 1
            elif t.to_status is MessageStatus.DELIVERED:
                self._bucket(minute)[1] += 1
            elif t.to_status in _FAILED:
                self._bucket(minute)[2] += 1
                self.failures.appendleft(Failure(
                    t.message_id, t.at, t.to_status.value, t.modem_id, t.error_code,
                    t.error_class, t.detail,
                ))
            if t.from_status is MessageStatus.SENDING and t.modem_id is not None:
                self._attempt(t)

    def _bucket(self, minute: int) -> list[int]:
        bucket = self._minutes.get(minute)
        if bucket is None:
            bucket = self._minutes[minute] = [0, 0, 0]
            for old in [m for m in self._minutes if m <= minute - MINUTES]:
                del self._minutes[old]
        return bucket

    def _attempt(self, t: Transition) -> None:
        assert t.modem_id is not None
        ok = t.to_status is MessageStatus.SENT
        if not ok and t.error_class is None:
            return  # released without an attempt (modem went away first): no verdict
        self._attempts.setdefault(t.modem_id, deque()).append(_Attempt(t.at, ok, t.error_class))
        started = self._sending.pop(t.message_id, None)
        if ok and started is not None:
            kept = self._latency.setdefault(t.modem_id, deque(maxlen=_LATENCIES_KEPT))
            kept.append(max(0.0, (t.at - started).total_seconds()))

    def per_minute(self, now: datetime) -> dict[str, int | list[int]]:
        """The last hour, oldest minute first; `start` is the first minute (epoch seconds)."""
        last = int(now.timestamp() // 60)
        first = last - MINUTES + 1
        rows = [self._minutes.get(m, [0, 0, 0]) for m in range(first, last + 1)]
        return {
            "start": first * 60,
            "sent": [r[0] for r in rows],
            "delivered": [r[1] for r in rows],
            "failed": [r[2] for r in rows],
        }

    def modem(self, modem_id: str, now: datetime) -> ModemTraffic:
        attempts = self._attempts.get(modem_id)
        if attempts is not None:
            horizon = now - self.error_window
            while attempts and attempts[0].at < horizon:
                attempts.popleft()
        kept = attempts or ()
        by_class = Counter(a.error_class or "unknown" for a in kept if not a.ok)
        latencies = self._latency.get(modem_id)
        return ModemTraffic(
            attempts=len(kept),
            errors=sum(by_class.values()),
            by_class=dict(by_class),
            latency_s=statistics.median(latencies) if latencies else None,
        )


__all__ = ["MINUTES", "Failure", "ModemTraffic", "Traffic"]

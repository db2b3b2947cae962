"""Traffic figures from the transitions feed: per minute, per modem, latency, failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from gateway.health.traffic import Traffic
from gateway.store.models import MessageStatus as S
from gateway.store.models import Transition

T0 = datetime(2025, 3, 10, 12, 0, 30, tzinfo=UTC)
_ids = count(1)


def move(message: str, old: S | None, new: S, seconds: float, modem: str | None = "m0",
         error_class: str | None = None, detail: str | None = None) -> Transition:
    return Transition(next(_ids), message, old, new, T0 + timedelta(seconds=seconds), modem,
                      "42" if error_class else None, error_class, detail)


def test_per_minute_counts_over_the_last_hour() -> None:
    traffic = Traffic(error_window=timedelta(minutes=15))
    traffic.ingest([
        move("c", S.SENDING, S.FAILED, -3600, error_class="permanent"),  # over an hour ago
        move("a", S.SENDING, S.SENT, 0), move("b", S.SENDING, S.SENT, 1),
        move("a", S.SENT, S.DELIVERED, 65), move("b", S.SENT, S.UNDELIVERED, 66, detail="absent"),
    ])
    figures = traffic.per_minute(T0 + timedelta(seconds=70))
    sent, delivered, failed = figures["sent"], figures["delivered"], figures["failed"]
    assert isinstance(sent, list) and isinstance(delivered, list) and isinstance(failed, list)
    assert len(sent) == 60
    assert sent[-2:] == [2, 0]
    assert delivered[-2:] == [0, 1]
    assert failed[-2:] == [0, 1]
    assert sum(failed) == 1
    assert figures["start"] == (int(T0.timestamp()) // 60 + 1 - 59) * 60
    reasons = [(f.message_id, f.detail) for f in traffic.failures]
    assert reasons == [("b", "absent"), ("c", None)]


def test_per_modem_attempts_errors_by_class_and_latency() -> None:
    traffic = Traffic(error_window=timedelta(minutes=15))
    traffic.ingest([
        move("a", S.QUEUED, S.SENDING, 0), move("a", S.SENDING, S.SENT, 2.0),
        move("b", S.QUEUED, S.SENDING, 3), move("b", S.SENDING, S.SENT, 7.0),
        move("c", S.QUEUED, S.SENDING, 8),
        move("c", S.SENDING, S.QUEUED, 9, error_class="temporary"),  # retried: an error
        move("d", S.QUEUED, S.SENDING, 10),
        move("d", S.SENDING, S.QUEUED, 10.5),  # released, never tried: no verdict
        move("e", S.QUEUED, S.SENDING, 11, modem="m1"),
        move("e", S.SENDING, S.FAILED, 12, modem="m1", error_class="sim"),
    ])
    m0 = traffic.modem("m0", T0 + timedelta(seconds=20))
    assert (m0.attempts, m0.errors, m0.by_class) == (3, 1, {"temporary": 1})
    assert m0.latency_s == 3.0  # median of 2 s and 4 s
    m1 = traffic.modem("m1", T0 + timedelta(seconds=20))
    assert (m1.attempts, m1.errors, m1.by_class, m1.latency_s) == (1, 1, {"sim": 1}, None)
    later = traffic.modem("m0", T0 + timedelta(minutes=16))
    assert (later.attempts, later.errors) == (0, 0)  # out of the window
    assert traffic.modem("nobody", T0).attempts == 0

"""Store behaviour that comes from configuration (`[scheduler]`, `[inbound]`, `[numbers]`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class UncertainPolicy(StrEnum):
    """What to do with a message whose submit outcome is unknown (crash mid-send, no +CMGS)."""

    RESEND = "resend"  # queue it again, flagged uncertain: the recipient may get it twice
    FAIL = "fail"  # mark it failed, flagged uncertain: it may have gone out once


@dataclass(frozen=True, slots=True)
class StoreOptions:
    uncertain_policy: UncertainPolicy = UncertainPolicy.RESEND
    sticky_ttl: timedelta | None = timedelta(days=30)  # None: no sticky SIM
    report_window: timedelta = timedelta(days=3)  # status reports matched this long after sending
    report_clock_skew: timedelta = timedelta(minutes=5)
    orphan_report_ttl: timedelta = timedelta(minutes=10)
    inbound_dedupe_ttl: timedelta = timedelta(days=7)
    invalid_number_ttl: timedelta = timedelta(days=30)
    absent_number_ttl: timedelta = timedelta(hours=6)
    reachable_ttl: timedelta = timedelta(days=90)

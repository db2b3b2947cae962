"""What a failed send attempt means for the message and for the SIM, by error class.

| class     | message                                   | SIM                          |
|-----------|-------------------------------------------|------------------------------|
| temporary | retry after exponential backoff, any SIM   | keep                         |
| sim       | retry at once on another SIM               | take out (alert)             |
| modem     | retry at once on another SIM               | take out (supervisor resets) |
| permanent | failed, with the reason                    | keep                         |
| bug       | failed loudly (logged as an error)         | keep                         |
| ignore    | treated as temporary (not expected on send)| keep                         |

Every retry counts an attempt; at `max_attempts` (or the error's own, smaller bound from the
driver's table, e.g. "T once, then P") the message fails, so one poison message cannot hold a
modem or a queue. The classes are the driver's `drivers.errors.ErrorClass`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from drivers.errors import ErrorClass

__all__ = ["ErrorClass", "RetryDecision", "RetryPolicy", "SendFailure", "decide"]


@dataclass(frozen=True, slots=True)
class SendFailure:
    """One failed attempt as a worker reports it.

    `code` is the modem's error as text ("CMS 38", "CME 14", "timeout"); `max_attempts` is the
    bound from the driver's error table when it has one (`AtError.max_attempts`).
    """

    error_class: ErrorClass
    detail: str
    code: str | None = None
    max_attempts: int | None = None

    @classmethod
    def from_exception(cls, exc: BaseException) -> SendFailure:
        """From a driver exception (`drivers.errors.ModemError` and friends)."""
        error_class = getattr(exc, "error_class", ErrorClass.MODEM)
        kind = getattr(exc, "kind", None)
        number = getattr(exc, "code", None)
        code = f"{kind} {number}" if kind and number is not None else (kind or None)
        if code is None:
            code = type(exc).__name__
        return cls(
            error_class=ErrorClass(error_class),
            detail=str(exc) or type(exc).__name__,
            code=code,
            max_attempts=getattr(exc, "max_attempts", None),
        )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_initial: timedelta = timedelta(seconds=5)
    backoff_max: timedelta = timedelta(minutes=10)
    multiplier: float = 2.0
    jitter: float = 0.1

    def backoff(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """Delay before attempt `attempt + 1` (attempt counts from 1)."""
        base = self.backoff_initial.total_seconds() * self.multiplier ** max(attempt - 1, 0)
        delay = min(base, self.backoff_max.total_seconds())
        if self.jitter:
            spread = delay * self.jitter
            delay += (rng or random).uniform(-spread, spread)
        return timedelta(seconds=max(delay, 0.0))


@dataclass(frozen=True, slots=True)
class RetryDecision:
    retry: bool
    retry_at: datetime | None
    exclude_modem: bool  # do not give this message to the same SIM again
    take_sim_out: bool  # tell the supervisor: stop using this SIM (alert / reset)
    loud: bool  # log at error level: our own bug
    reason: str


def decide(
    failure: SendFailure,
    attempt: int,
    policy: RetryPolicy,
    now: datetime,
    *,
    rng: random.Random | None = None,
) -> RetryDecision:
    """The decision for a message whose attempt number `attempt` (1-based) failed."""
    cls = failure.error_class
    if cls is ErrorClass.PERMANENT:
        return RetryDecision(False, None, False, False, False, f"permanent error: {failure.detail}")
    if cls is ErrorClass.BUG:
        return RetryDecision(
            False, None, False, False, True, f"request rejected as malformed: {failure.detail}"
        )
    limit = policy.max_attempts
    if failure.max_attempts is not None:
        limit = min(limit, failure.max_attempts)
    moves_on = cls in (ErrorClass.SIM, ErrorClass.MODEM)
    if attempt >= limit:
        return RetryDecision(
            False,
            None,
            False,
            moves_on,
            False,
            f"gave up after {attempt} attempt(s); last error ({cls}): {failure.detail}",
        )
    if moves_on:
        return RetryDecision(True, now, True, True, False, f"{cls} error, trying another SIM")
    delay = policy.backoff(attempt, rng)
    return RetryDecision(
        True,
        now + delay,
        False,
        False,
        False,
        f"temporary error, retry in {delay.total_seconds():.0f} s",
    )

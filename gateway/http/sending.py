"""The one path from any of the three APIs (JSON, Twilio, Kannel) into `Gateway.submit`.

`Gateway.submit` looks each number up, asks the messaging policy (consent, opt-out, quiet hours,
caps) and commits the accepted ones; `send` returns one outcome per message, in order, after
that commit. Refusals carry the problem slug the API answers with.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from gateway.numbers import NumberLookup, lookup
from gateway.record import record
from gateway.store.models import Message
from gateway.submit import OutgoingMessage, Refused

from .context import ApiContext
from .problems import ProblemError

_SLUGS = {
    "invalid_number": "invalid-number",
    "empty_text": "empty-text",
    "too_long": "too-long",
    "idempotency_conflict": "idempotency-conflict",
    "opted_out": "opted-out",
    "no_consent": "no-consent",
    "frequency_capped": "frequency-capped",
    "invalid": "validation-error",
}
_FIELDS = {"invalid-number": "to", "empty-text": "text", "too-long": "text",
           "opted-out": "to", "no-consent": "to", "frequency-capped": "to",
           "idempotency-conflict": "Idempotency-Key"}


@record
class Accepted:
    message: Message
    created: bool


@dataclass(frozen=True, slots=True)
class Rejected:
    slug: str
    detail: str
    field: str | None
    lookup: NumberLookup | None = None

    def problem(self) -> ProblemError:
        return ProblemError(self.slug, self.detail, field=self.field)


Outcome = Accepted | Rejected


def number_lookup(ctx: ApiContext, number: str) -> NumberLookup:
    """Offline look-up (no learned reachability: `GET /numbers/{n}` has that); cached in
    `gateway.numbers`, so the answer to a submit reuses the look-up the submit made."""
    return lookup(number, ctx.runtime.numbers.policy)


async def send(ctx: ApiContext, messages: Sequence[OutgoingMessage], route: str
               ) -> list[Outcome]:
    started = time.perf_counter()
    if not messages:
        return []
    if ctx.runtime.closing:
        raise ProblemError("unavailable", "the gateway is shutting down",
                           headers={"Retry-After": "5"})
    try:
        results = await ctx.runtime.submit(messages)
    except RuntimeError as exc:  # shutting down between the check and the call
        raise ProblemError("unavailable", str(exc), headers={"Retry-After": "5"}) from None
    outcomes: list[Outcome] = []
    refused: list[str] = []
    for result in results:
        if isinstance(result, Refused):
            slug = _SLUGS.get(result.code, "validation-error")
            outcomes.append(Rejected(slug, result.reason, _FIELDS.get(slug), result.lookup))
            refused.append(slug)
        else:
            outcomes.append(Accepted(result.message, result.created))
    metrics = ctx.metrics
    metrics.observe_submit(route, time.perf_counter() - started, len(outcomes) - len(refused))
    for slug in refused:
        metrics.refused.labels(slug).inc()
    return outcomes


def with_key(message: OutgoingMessage, idempotency_key: str | None, digest: str | None
             ) -> OutgoingMessage:
    if idempotency_key is None:
        return message
    return replace(message, idempotency_key=idempotency_key, request_hash=digest)


__all__ = ["Accepted", "Outcome", "Rejected", "number_lookup", "send", "with_key"]

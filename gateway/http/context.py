"""What the API's handlers share, stored once on the app under `API`.

`ConsentCheck` is the hook for the opt-out / consent store (a later issue): until one is
installed (`app[API].consent = ...`), every recipient is allowed. Whatever it refuses is
answered as `opted-out` (Twilio error 21610, a Kannel 4xx) before anything is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from gateway.keys import Keyring
from gateway.metrics import GatewayMetrics
from gateway.store.models import Category
from gateway.store.sqlite_api import ApiStore
from gateway.webhooks.dispatcher import WebhookDispatcher, WebhookOptions

from .auth import Access
from .idempotency import Idempotency

if TYPE_CHECKING:
    from gateway.daemon import Gateway


class ConsentCheck(Protocol):
    async def refusals(self, recipients: Sequence[tuple[str, Category | None]]
                       ) -> list[str | None]:
        """For each (E.164 number, category): None to allow, else why it is refused."""
        ...


class AllowEveryone:
    async def refusals(self, recipients: Sequence[tuple[str, Category | None]]
                       ) -> list[str | None]:
        return [None] * len(recipients)


@dataclass(frozen=True, slots=True)
class Limits:
    single_body: int = 64 * 1024
    batch_body: int = 32 * 1024 * 1024
    max_batch: int = 10_000
    max_segments: int = 10


@dataclass(slots=True)
class ApiContext:
    runtime: Gateway
    api: ApiStore
    access: Access
    idempotency: Idempotency
    metrics: GatewayMetrics
    keyring: Keyring | None
    webhook_options: WebhookOptions
    limits: Limits
    dispatcher: WebhookDispatcher | None = None
    consent: ConsentCheck = field(default_factory=AllowEveryone)


API: web.AppKey[ApiContext] = web.AppKey("smsgw_api", ApiContext)


__all__ = ["API", "AllowEveryone", "ApiContext", "ConsentCheck", "Limits"]

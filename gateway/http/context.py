"""What the API's handlers share, stored once on the app under `API`.

Consent and opt-out are not asked here: the messaging policy inside `Submitter` answers for
every door (API, CLI, campaigns), and its refusals come back as `opted-out` / `no-consent`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from gateway.keys import Keyring
from gateway.metrics import GatewayMetrics
from gateway.store.sqlite_api import ApiStore
from gateway.webhooks.dispatcher import WebhookDispatcher, WebhookOptions

from .auth import Access
from .idempotency import Idempotency

if TYPE_CHECKING:
    from gateway.daemon import Gateway


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


API: web.AppKey[ApiContext] = web.AppKey("smsgw_api", ApiContext)


__all__ = ["API", "ApiContext", "Limits"]

"""Records of the HTTP API's own tables: API keys, stored idempotent responses, webhook
endpoints and the webhook outbox. Plain data, like `models.py`, so a PostgreSQL store can
return the same types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .models import InboundMessage, MessageStatus


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """One API key as stored: never the key itself, only its SHA-256 (`hash`)."""

    id: int
    name: str
    hash: str
    salt: str
    hint: str
    scopes: frozenset[str]
    rate_limit: float | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """An answer kept for an `Idempotency-Key`, replayed byte for byte."""

    request_hash: str
    status: int
    content_type: str
    body: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: str
    url: str
    events: tuple[str, ...]
    format: str  # standard | twilio
    secret: str
    api_key: str
    description: str | None
    enabled: bool
    disabled_reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A delivery to record. `dedupe` makes recording the same event twice a no-op."""

    dedupe: str
    event_id: str
    event_type: str
    endpoint_id: str | None
    target: str
    format: str  # standard | twilio | kannel
    payload: str  # JSON
    signer: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    event_id: str
    event_type: str
    endpoint_id: str | None
    target: str
    format: str
    payload: str
    signer: str | None
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one delivery attempt came to. `state`: delivered, pending (retry at
    `next_attempt_at`), failed (retries exhausted or the target refused for good)."""

    item_id: int
    state: str
    status: int | None
    error: str | None
    next_attempt_at: datetime | None = None
    disable_endpoint: str | None = None  # endpoint id to disable (it answered 410 Gone)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery as the API lists it."""

    id: int
    event_id: str
    event_type: str
    endpoint_id: str | None
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TransitionFeedRow:
    """One status change joined with what a callback about it needs from its message."""

    transition_id: int
    message_id: str
    from_status: MessageStatus | None
    to_status: MessageStatus
    at: datetime
    modem_id: str | None
    error_code: str | None
    error_class: str | None
    detail: str | None
    to: str
    status_callback: str | None
    metadata: Mapping[str, Any] | None
    api_key: str
    segments: int


@dataclass(frozen=True, slots=True)
class InboundFeedRow:
    seq: int
    message: InboundMessage


__all__ = [
    "ApiKeyRecord",
    "DeliveryRecord",
    "DeliveryResult",
    "InboundFeedRow",
    "OutboxEntry",
    "OutboxItem",
    "StoredResponse",
    "TransitionFeedRow",
    "WebhookEndpoint",
]

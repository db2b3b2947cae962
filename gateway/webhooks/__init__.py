"""Webhooks: signed deliveries of message status changes, received messages and modem health,
through a durable outbox with retries (see `dispatcher`), plus per-message status callbacks
in the shape of the API that accepted the message (JSON, Twilio form, Kannel dlr-url)."""

from .dispatcher import RETRY_SCHEDULE, WebhookDispatcher, WebhookOptions
from .events import ENDPOINT_FORMATS, EVENT_TYPES, MESSAGE_INBOUND, MESSAGE_STATUS, MODEM_HEALTH
from .signing import (
    new_secret,
    secret_for_key,
    standard_headers,
    twilio_signature,
    verify_standard,
    verify_twilio,
)
from .targets import GuardedResolver, TargetRefusedError, check_target

__all__ = [
    "ENDPOINT_FORMATS",
    "EVENT_TYPES",
    "MESSAGE_INBOUND",
    "MESSAGE_STATUS",
    "MODEM_HEALTH",
    "RETRY_SCHEDULE",
    "GuardedResolver",
    "TargetRefusedError",
    "WebhookDispatcher",
    "WebhookOptions",
    "check_target",
    "new_secret",
    "secret_for_key",
    "standard_headers",
    "twilio_signature",
    "verify_standard",
    "verify_twilio",
]

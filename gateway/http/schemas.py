"""The API's request and response bodies as pydantic models: the one source of truth for
validation (`extra="forbid"`, strict types: a wrong type is a 422, never a silent coercion) and
for `/openapi.json`. Responses are built as plain dicts for speed (see `views.py`); the schema
tests and schemathesis check that they match these models.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    field_validator,
)

from gateway.store.models import Category, Lane, MessageStatus
from gateway.submit import MAX_TEXT_CHARS

MAX_METADATA_BYTES = 4096
MAX_VALIDITY_S = 30 * 24 * 3600
MAX_URL = 2048


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _iso_datetime(value: object) -> object:
    """Query times are RFC 3339 text with an offset; no Unix numbers, no guessing."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("expected an RFC 3339 date-time such as 2024-05-01T12:00:00Z") \
                from None
        if parsed.tzinfo is None:
            raise ValueError("the date-time needs an offset (Z or +HH:MM)")
        return parsed
    return value


QueryTime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]


class _Query(BaseModel):
    """Query strings: every value arrives as text, so types are converted (lax), but unknown
    parameters are still refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- messages ----------------------------------------------------------------------------------


class MessageIn(_In):
    """One message to send."""

    to: str = Field(min_length=1, max_length=40, description="Recipient, E.164 (+4915112345678)"
                    " or national with [numbers] default_region", examples=["+4915112345678"])
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS,
                      description="Message text; GSM-7 or UCS-2 is chosen automatically",
                      examples=["Your code is 123456"])
    priority: Lane = Field(default=Lane.NORMAL, description="Lane: otp, high, normal, bulk")
    send_at: AwareDatetime | None = Field(default=None,
                                          description="Send no earlier than this (RFC 3339)")
    validity: int | None = Field(default=None, ge=60, le=MAX_VALIDITY_S,
                                 description="Seconds after which an unsent message expires")
    category: Category | None = Field(default=None, description="transactional or marketing")
    status_callback: str | None = Field(default=None, min_length=1, max_length=MAX_URL,
                                        description="URL that receives signed status changes")
    metadata: dict[str, JsonValue] | None = Field(
        default=None, description="Your own data (at most 4 KiB as JSON), echoed back"
    )

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, JsonValue] | None) -> dict[str, JsonValue] | None:
        if value is None:
            return None
        if any(key.startswith("smsgw:") for key in value):
            raise ValueError("keys starting with 'smsgw:' are reserved")
        if len(json.dumps(value, separators=(",", ":")).encode()) > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is larger than {MAX_METADATA_BYTES} bytes as JSON")
        return value


class BatchIn(_In):
    messages: list[MessageIn] = Field(min_length=1, max_length=10_000)


class BatchRequest(BaseModel):
    """The batch body as documented: each item is a `MessageIn`, validated on its own, so an
    item that does not fit is refused on its line of the answer rather than failing them all."""

    model_config = ConfigDict(extra="forbid")

    messages: list[dict[str, JsonValue]] = Field(
        min_length=1, max_length=10_000, description="MessageIn objects",
        examples=[[{"to": "+4915112345678", "text": "Your code is 123456"}]],
    )


class ErrorOut(_Out):
    code: str | None
    error_class: str | None = Field(alias="class")
    detail: str | None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NumberOut(_Out):
    """The offline, HLR-style look-up of a number."""

    input: str
    e164: str | None
    valid: bool
    possible: bool
    number_type: str
    region: str | None
    country_code: int | None
    carrier: str | None
    time_zones: list[str]
    short_code: bool
    reachability: Literal["reachable", "absent", "invalid"] | None
    reachability_reason: str | None
    can_receive_sms: bool
    reason: str


class MessageOut(_Out):
    id: str
    status: MessageStatus
    to: str
    text: str
    segments: int
    encoding: str
    priority: Lane
    category: Category | None
    send_at: datetime | None
    expires_at: datetime | None
    status_callback: str | None
    metadata: dict[str, JsonValue] | None
    uncertain: bool = Field(description="True when a send may or may not have gone out")
    attempts: int
    modem_id: str | None
    error: ErrorOut | None
    created_at: datetime
    updated_at: datetime


class AcceptedOut(MessageOut):
    number: NumberOut | None = Field(default=None, description="The recipient's look-up")
    replayed: bool = Field(default=False,
                           description="True when an Idempotency-Key matched an earlier request")


class PartOut(_Out):
    seq: int
    status: str
    modem_id: str | None
    mr: int | None = Field(description="TP-MR the modem answered with (+CMGS)")
    concat_ref: int | None
    sent_at: datetime | None
    report_status: int | None = Field(description="Last TP-ST from a status report")
    report_at: datetime | None


class TransitionOut(_Out):
    from_status: MessageStatus | None
    to_status: MessageStatus
    at: datetime
    modem_id: str | None
    error_code: str | None
    error_class: str | None
    detail: str | None


class MessageDetailOut(MessageOut):
    parts: list[PartOut]
    history: list[TransitionOut]


class MessagePageOut(_Out):
    messages: list[MessageOut]
    next_cursor: str | None


class ProblemOut(_Out):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[dict[str, str]] | None = None
    instance: str | None = None


class MessageSummaryOut(_Out):
    id: str
    status: MessageStatus
    to: str
    segments: int
    encoding: str
    replayed: bool


class BatchItemOut(_Out):
    index: int
    accepted: bool
    message: MessageSummaryOut | None = None
    error: ProblemOut | None = None


class BatchOut(_Out):
    accepted: int
    refused: int
    messages: list[BatchItemOut]


class MessageListQuery(_Query):
    status: MessageStatus | None = None
    to: str | None = Field(default=None, max_length=40)
    since: QueryTime | None = None
    until: QueryTime | None = None
    cursor: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=500)


# --- inbound -----------------------------------------------------------------------------------


class InboundOut(_Out):
    id: str
    modem_id: str
    sender: str = Field(alias="from")
    text: str
    encoding: str
    sent_at: datetime = Field(description="SMSC time stamp")
    received_at: datetime
    complete: bool
    parts_expected: int
    parts_received: int
    missing: list[int]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class InboundPageOut(_Out):
    messages: list[InboundOut]
    next_cursor: str | None


class InboundListQuery(_Query):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    sender: str | None = Field(default=None, alias="from", max_length=40)
    modem: str | None = Field(default=None, max_length=128)
    since: QueryTime | None = None
    cursor: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=500)


# --- modems ------------------------------------------------------------------------------------


class ModemOut(_Out):
    id: str | None
    path: str
    state: str
    since: datetime
    group: str | None
    identity: dict[str, Any] | None = Field(description="IMEI, IMSI, ICCID, MSISDN, model...")
    operator: str | None
    registration: int | None
    registered: bool | None
    roaming: bool | None
    signal_dbm: int | None
    sim_state: str | None
    storage_used: int | None
    storage_total: int | None
    counters: dict[str, int]
    limits: dict[str, int | None]
    last_error: str | None
    quarantined_until: datetime | None
    paused: bool
    history: list[dict[str, Any]]


class ModemListOut(_Out):
    modems: list[ModemOut]


class ModemActionOut(_Out):
    id: str
    action: Literal["pause", "resume", "reset"]
    accepted: bool
    state: str


# --- webhooks ----------------------------------------------------------------------------------

EventType = Literal["message.status", "message.inbound", "modem.health",
                    "contact.opted_out", "contact.opted_in", "conversation.handoff",
                    "survey.answered", "messaging.*"]


class WebhookIn(_In):
    url: str = Field(min_length=1, max_length=MAX_URL)
    events: list[EventType] = Field(min_length=1, max_length=8)
    format: Literal["standard", "twilio"] = Field(
        default="standard",
        description="standard: JSON signed per Standard Webhooks; twilio: form POST signed "
        "with X-Twilio-Signature (auth token = the creating API key)",
    )
    description: str | None = Field(default=None, max_length=200)


class WebhookOut(_Out):
    id: str
    url: str
    events: list[EventType]
    format: Literal["standard", "twilio"]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="whsec_... signing secret: shown only in this answer")


class WebhookListOut(_Out):
    webhooks: list[WebhookOut]


class DeliveryOut(_Out):
    id: int
    event_id: str
    event_type: str
    state: Literal["pending", "delivered", "failed", "canceled"]
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DeliveryListOut(_Out):
    deliveries: list[DeliveryOut]


# --- operations --------------------------------------------------------------------------------


class ReadyOut(_Out):
    ready: bool
    store: str
    modems_ready: int
    detail: str


__all__ = [
    "AcceptedOut",
    "BatchIn",
    "BatchItemOut",
    "BatchOut",
    "BatchRequest",
    "DeliveryListOut",
    "DeliveryOut",
    "ErrorOut",
    "InboundListQuery",
    "InboundOut",
    "InboundPageOut",
    "MessageDetailOut",
    "MessageIn",
    "MessageListQuery",
    "MessageOut",
    "MessagePageOut",
    "MessageSummaryOut",
    "ModemActionOut",
    "ModemListOut",
    "ModemOut",
    "NumberOut",
    "PartOut",
    "ProblemOut",
    "ReadyOut",
    "TransitionOut",
    "WebhookCreatedOut",
    "WebhookIn",
    "WebhookListOut",
    "WebhookOut",
]

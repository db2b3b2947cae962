"""Request bodies of the messaging API (`gateway/http/api_messaging.py`), as pydantic models:
strict types, unknown fields refused, the source of `/openapi.json` for these routes."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from gateway.store.models import Category, Lane

from .config import RuleActions, RuleMatch


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


ConsentWord = Literal["granted", "revoked"]


class ContactIn(_In):
    fields: dict[str, JsonValue] | None = Field(
        default=None, description="Template fields (merged; `replace` to overwrite all)")
    replace: bool = False
    language: str | None = Field(default=None, max_length=16)
    time_zone: str | None = Field(default=None, max_length=64,
                                  description="IANA zone for quiet hours, e.g. Europe/London")
    consent: dict[Category, ConsentWord] | None = Field(
        default=None, description="Per category: granted or revoked")
    opted_out: bool | None = Field(default=None,
                                   description="true: as if the contact texted STOP")
    detail: str | None = Field(default=None, max_length=200,
                               description="Recorded in the consent history")


class TemplateIn(_In):
    text: str = Field(min_length=1, max_length=1600)
    category: Category = Category.TRANSACTIONAL
    description: str | None = Field(default=None, max_length=200)


class PreviewIn(_In):
    fields: dict[str, JsonValue] = Field(default_factory=dict)
    to: str | None = Field(default=None, max_length=40,
                           description="A contact whose fields fill in what is not given")
    text: str | None = Field(default=None, min_length=1, max_length=1600,
                             description="Preview this text instead of a stored template")
    category: Category | None = None


class TemplateSendIn(_In):
    to: str = Field(min_length=1, max_length=40)
    fields: dict[str, JsonValue] = Field(default_factory=dict)
    priority: Lane = Lane.NORMAL
    category: Category | None = None
    send_at: AwareDatetime | None = None


class CampaignIn(_In):
    name: str = Field(min_length=1, max_length=100)
    template: str = Field(min_length=1, max_length=64)
    recipients: list[dict[str, JsonValue]] = Field(min_length=1, max_length=200_000)
    category: Category | None = None
    rate: float | None = Field(default=None, ge=0.001, le=1000,
                               description="At most this many messages per second")
    window: str | None = Field(default=None, pattern=r"^\d\d:\d\d-\d\d:\d\d$",
                               description="HH:MM-HH:MM in each recipient's local time")
    start_at: AwareDatetime | None = None


class ReplyIn(_In):
    text: str = Field(min_length=1, max_length=1600)
    agent: str | None = Field(default=None, max_length=64)


class AssignIn(_In):
    assignee: str | None = Field(default=None, max_length=64)


class RuleIn(_In):
    name: str = Field(min_length=1, max_length=64)
    priority: int = Field(default=100, ge=-1000, le=1000)
    match: RuleMatch
    actions: RuleActions = RuleActions()
    enabled: bool = True


class EventIn(_In):
    type: str = Field(min_length=3, max_length=64, pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
    to: str = Field(min_length=1, max_length=40)
    fields: dict[str, JsonValue] = Field(default_factory=dict)
    send_at: AwareDatetime | None = None


class BindingIn(_In):
    template: str = Field(min_length=1, max_length=64)
    category: Category = Category.TRANSACTIONAL
    priority: Lane = Lane.HIGH


class OtpIn(_In):
    to: str = Field(min_length=1, max_length=40)
    template: str | None = Field(default=None, max_length=64)
    length: int | None = Field(default=None, ge=4, le=10)
    ttl: int | None = Field(default=None, ge=30, le=86400, description="Seconds")


class OtpVerifyIn(_In):
    id: str = Field(min_length=1, max_length=64)
    code: str = Field(min_length=1, max_length=16)


MODELS: tuple[type[BaseModel], ...] = (
    ContactIn, TemplateIn, PreviewIn, TemplateSendIn, CampaignIn, ReplyIn, AssignIn, RuleIn,
    EventIn, BindingIn, OtpIn, OtpVerifyIn,
)

__all__ = ["MODELS", "AssignIn", "BindingIn", "CampaignIn", "ContactIn", "EventIn", "OtpIn",
           "OtpVerifyIn", "PreviewIn", "ReplyIn", "RuleIn", "TemplateIn", "TemplateSendIn"]

"""`[messaging]`: keywords and texts per language, quiet hours, frequency caps, the opt-out
wording of marketing texts, price per segment, one-time codes, rules and event bindings.

Plain pydantic models with no import from `gateway.config`, so `Settings` can hold a
`messaging: MessagingConfig` section without an import cycle. Every default is what the
compliance notes ask for (US CTIA / Twilio keywords, quiet hours 21:00-08:00 for marketing,
at most 4 marketing texts in 30 days).
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.store.models import Category, Lane

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_TEMPLATE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeywordSet(_Section):
    """Whole-message keywords of one language (matched case and punctuation insensitive)."""

    stop: list[str] = Field(default_factory=list)
    start: list[str] = Field(default_factory=list)
    help: list[str] = Field(default_factory=list)


class Texts(_Section):
    """Texts of one language. `{brand}` is replaced by `[messaging] brand`."""

    stop_confirmation: str = (
        "{brand}: you are unsubscribed and will get no more messages. Reply START to resubscribe."
    )
    start_confirmation: str = (
        "{brand}: you are subscribed again. Reply HELP for help, STOP to unsubscribe."
    )
    help: str = "{brand} customer service. Reply STOP to unsubscribe, START to resubscribe."
    opt_out_instruction: str = "Reply STOP to opt out"


ENGLISH = KeywordSet(
    stop=["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPT OUT"],
    start=["START", "YES", "UNSTOP"],
    help=["HELP", "INFO"],
)


class QuietHours(_Section):
    """No sends from `start` until `end` in the recipient's local time (may span midnight)."""

    start: str = "21:00"
    end: str = "08:00"

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _HHMM.match(value.strip()):
            raise ValueError("expected HH:MM (24 hour clock), e.g. 21:00")
        return value.strip()

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)


class FrequencyCap(_Section):
    max: int = Field(ge=1, description="messages per recipient in the window")
    days: float = Field(default=30, gt=0)


class OtpConfig(_Section):
    length: int = Field(default=6, ge=4, le=10)
    ttl_s: int = Field(default=300, ge=30, le=86400)
    max_attempts: int = Field(default=5, ge=1, le=20)
    max_per_hour: int = Field(default=5, ge=1, description="codes per number per hour")
    text: str = "{brand}: your code is {code}. It expires in {minutes} minutes. Never share it."


class RuleMatch(_Section):
    """What an inbound message must look like. Every given condition must hold."""

    keyword: list[str] | None = None  # whole message, case and punctuation insensitive
    regex: str | None = Field(default=None, max_length=500)  # searched, case insensitive
    in_reply_to_campaign: str | None = None
    in_reply_to_message: str | None = None
    in_reply_to_template: str | None = None

    @field_validator("regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _something(self) -> RuleMatch:
        if not any((self.keyword, self.regex, self.in_reply_to_campaign,
                    self.in_reply_to_message, self.in_reply_to_template)):
            raise ValueError("a rule needs a keyword, a regex or an in_reply_to condition")
        return self


class RuleActions(_Section):
    reply: str | None = Field(default=None, max_length=1600, description="auto-reply template")
    reply_template: str | None = None
    set_fields: dict[str, str] = Field(default_factory=dict)
    event: str | None = None  # an event type raised (webhook to subscribed endpoints)
    webhook: str | None = Field(default=None, max_length=2048)
    handoff: bool = False
    survey: bool = False  # store the answer (a number) against the message replied to
    survey_scale: tuple[int, int] = (1, 5)

    @field_validator("event")
    @classmethod
    def _event(cls, value: str | None) -> str | None:
        if value is not None and not _EVENT_TYPE.match(value):
            raise ValueError("an event type is dotted lower case, e.g. callback.requested")
        return value


class RuleConfig(_Section):
    name: str = Field(min_length=1, max_length=64)
    priority: int = 100
    match: RuleMatch
    actions: RuleActions = RuleActions()


class EventBinding(_Section):
    template: str
    category: Category = Category.TRANSACTIONAL
    lane: Lane = Lane.HIGH


class TemplateConfig(_Section):
    text: str = Field(min_length=1, max_length=1600)
    category: Category = Category.TRANSACTIONAL
    description: str | None = None


class MessagingConfig(_Section):
    enabled: bool = True
    brand: str = Field(default="smsgw", max_length=40,
                       description="who is writing: {brand} in every standard text")
    default_language: str = "en"
    keywords: dict[str, KeywordSet] = Field(default_factory=lambda: {"en": ENGLISH})
    texts: dict[str, Texts] = Field(default_factory=lambda: {"en": Texts()})
    confirm_opt_out: bool = True
    default_category: Category = Category.TRANSACTIONAL
    quiet_hours: dict[Category, QuietHours] = Field(
        default_factory=lambda: {Category.MARKETING: QuietHours()}
    )
    default_time_zone: str = Field(default="UTC",
                                   description="when neither the contact nor the number tells")
    frequency_caps: dict[Category, FrequencyCap] = Field(
        default_factory=lambda: {Category.MARKETING: FrequencyCap(max=4, days=30)}
    )
    price_per_segment: float = Field(default=0.0, ge=0)
    currency: str = Field(default="EUR", max_length=8)
    reply_window_hours: float = Field(default=72, gt=0,
                                      description="how long a reply counts as one to a message")
    handoff_keywords: list[str] = Field(default_factory=lambda: ["AGENT", "HUMAN"])
    otp: OtpConfig = OtpConfig()
    rules: list[RuleConfig] = Field(default_factory=list)
    templates: dict[str, TemplateConfig] = Field(default_factory=dict)
    events: dict[str, EventBinding] = Field(default_factory=dict)
    campaign_chunk: int = Field(default=5000, ge=100, le=50000)
    poll_interval_s: float = Field(default=0.25, gt=0, le=10)

    @field_validator("default_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}, e.g. Europe/London") from None
        return value

    @field_validator("templates")
    @classmethod
    def _template_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not _TEMPLATE_NAME.match(name):
                raise ValueError(f"template name {name!r}: lower case letters, digits, _ . -")
        return value

    @field_validator("events")
    @classmethod
    def _event_types(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not _EVENT_TYPE.match(name):
                raise ValueError(f"event type {name!r}: dotted lower case, e.g. order.shipped")
        return value

    @model_validator(mode="after")
    def _languages(self) -> MessagingConfig:
        if self.default_language not in self.texts:
            raise ValueError(f"texts.{self.default_language} (the default language) is missing")
        return self

    def texts_for(self, language: str | None) -> Texts:
        return self.texts.get(language or "", self.texts[self.default_language])


def is_event_type(value: str) -> bool:
    return bool(_EVENT_TYPE.match(value))


def is_template_name(value: str) -> bool:
    return bool(_TEMPLATE_NAME.match(value))


RuleSource = Literal["config", "api"]

__all__ = [
    "ENGLISH",
    "EventBinding",
    "FrequencyCap",
    "KeywordSet",
    "MessagingConfig",
    "OtpConfig",
    "QuietHours",
    "RuleActions",
    "RuleConfig",
    "RuleMatch",
    "TemplateConfig",
    "Texts",
    "is_event_type",
    "is_template_name",
]

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

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.store.models import Category, Lane

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_TEMPLATE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ENGLISH_STOP = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPT OUT")
ENGLISH_START = ("START", "YES", "UNSTOP")
ENGLISH_HELP = ("HELP", "INFO")


class Language(_Section):
    """Keywords (whole message, case and punctuation insensitive) and texts of one language.
    `{brand}` in a text is replaced by `[messaging] brand`."""

    code: str = Field(default="en", min_length=2, max_length=16)
    stop: list[str] = Field(default_factory=lambda: list(ENGLISH_STOP))
    start: list[str] = Field(default_factory=lambda: list(ENGLISH_START))
    help: list[str] = Field(default_factory=lambda: list(ENGLISH_HELP))
    stop_confirmation: str = (
        "{brand}: you are unsubscribed and will get no more messages. Reply START to resubscribe."
    )
    start_confirmation: str = (
        "{brand}: you are subscribed again. Reply HELP for help, STOP to unsubscribe."
    )
    help_text: str = "{brand} customer service. Reply STOP to unsubscribe, START to resubscribe."
    opt_out_instruction: str = "Reply STOP to opt out"


class QuietHours(_Section):
    """No `category` messages from `start` until `end` in the recipient's local time (the span
    may cross midnight)."""

    category: Category = Category.MARKETING
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
    category: Category = Category.MARKETING
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
    type: str = Field(description="event type, dotted lower case: order.shipped")
    template: str
    category: Category = Category.TRANSACTIONAL
    lane: Lane = Lane.HIGH


class TemplateConfig(_Section):
    name: str
    text: str = Field(min_length=1, max_length=1600)
    category: Category = Category.TRANSACTIONAL
    description: str | None = None


class MessagingConfig(_Section):
    enabled: bool = True
    brand: str = Field(default="smsgw", max_length=40,
                       description="who is writing: {brand} in every standard text")
    default_language: str = "en"
    languages: list[Language] = Field(default_factory=lambda: [Language()])
    confirm_opt_out: bool = True
    default_category: Category = Category.TRANSACTIONAL
    quiet_hours: list[QuietHours] = Field(default_factory=lambda: [QuietHours()])
    default_time_zone: str = Field(default="UTC",
                                   description="when neither the contact nor the number tells")
    frequency_caps: list[FrequencyCap] = Field(
        default_factory=lambda: [FrequencyCap(max=4, days=30)])
    price_per_segment: float = Field(default=0.0, ge=0)
    currency: str = Field(default="EUR", max_length=8)
    reply_window_hours: float = Field(default=72, gt=0,
                                      description="how long a reply counts as one to a message")
    handoff_keywords: list[str] = Field(default_factory=lambda: ["AGENT", "HUMAN"])
    otp: OtpConfig = OtpConfig()
    rules: list[RuleConfig] = Field(default_factory=list)
    templates: list[TemplateConfig] = Field(default_factory=list)
    events: list[EventBinding] = Field(default_factory=list)
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

    @model_validator(mode="after")
    def _names(self) -> MessagingConfig:
        for kind, names in (("language", [x.code for x in self.languages]),
                            ("quiet_hours category", [x.category.value for x in self.quiet_hours]),
                            ("frequency_caps category",
                             [x.category.value for x in self.frequency_caps]),
                            ("template", [x.name for x in self.templates]),
                            ("event", [x.type for x in self.events])):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"each {kind} once: {', '.join(dupes)}")
        for template in self.templates:
            if not _TEMPLATE_NAME.match(template.name):
                raise ValueError(f"template name {template.name!r}: lower case letters, "
                                 "digits, _ . -")
        for binding in self.events:
            if not _EVENT_TYPE.match(binding.type):
                raise ValueError(f"event type {binding.type!r}: dotted lower case, e.g. "
                                 "order.shipped")
        if self.default_language not in {x.code for x in self.languages}:
            raise ValueError("no [[messaging.languages]] entry for the default language "
                             f"{self.default_language!r}")
        return self

    # --- look-ups (the lists are short) --------------------------------------------------------

    def texts_for(self, language: str | None) -> Language:
        by_code = {x.code: x for x in self.languages}
        return by_code.get(language or "", by_code[self.default_language])

    def quiet(self, category: Category) -> QuietHours | None:
        return next((q for q in self.quiet_hours if q.category is category), None)

    def cap(self, category: Category) -> FrequencyCap | None:
        return next((c for c in self.frequency_caps if c.category is category), None)

    def template(self, name: str) -> TemplateConfig | None:
        return next((t for t in self.templates if t.name == name), None)

    def binding(self, event_type: str) -> EventBinding | None:
        return next((b for b in self.events if b.type == event_type), None)


def is_event_type(value: str) -> bool:
    return bool(_EVENT_TYPE.match(value))


def is_template_name(value: str) -> bool:
    return bool(_TEMPLATE_NAME.match(value))


__all__ = [
    "EventBinding",
    "FrequencyCap",
    "Language",
    "MessagingConfig",
    "OtpConfig",
    "QuietHours",
    "RuleActions",
    "RuleConfig",
    "RuleMatch",
    "TemplateConfig",
    "is_event_type",
    "is_template_name",
]

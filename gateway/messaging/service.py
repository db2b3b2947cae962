"""`Messaging`: the customer-service layer of one gateway, built once and shared by the daemon,
the HTTP routes and the tests.

    messaging = Messaging(store, settings.messaging, numbers=policy, secret=...)
    submitter = Submitter(..., policy=messaging.policy)    # the gate on the one door
    messaging.bind(gateway.submit)                          # how it sends its own messages
    messaging.start()                                       # the inbound processor
    ...
    await messaging.close()

The store must have schema 4 (`0004_messaging.sql`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.numbers import NumberLookup, NumberPolicy, lookup
from gateway.store.models import Category, Lane
from gateway.submit import OutgoingMessage, Refused, SubmitResult

from .campaigns import Campaigns
from .config import MessagingConfig
from .contacts import Contacts
from .conversations import Conversations, Thread
from .db import META, Runner, to_ms, utcnow
from .events import Binding, Event, EventLog, make_event
from .keywords import Keywords
from .lookups import quick_e164
from .otp import OTP_SALT, Otp, OtpError, Verification
from .policy import PolicyGate
from .processor import InboundProcessor, SubmitFn
from .reports import Reports
from .rules import Rules
from .templates import Template, TemplateError, Templates, compiled


class MessagingError(Exception):
    """Refused by the messaging layer: `code` says why (not_found, template, unavailable)."""

    def __init__(self, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field


@dataclass(frozen=True, slots=True)
class Sent:
    """What a send through the messaging layer came to: the store's answer, and the text."""

    result: SubmitResult
    text: str


def secret_for_database(db_path: Path) -> bytes:
    """The OTP secret: derived from the gateway's keyring file beside the database (the same
    one API keys come from), with a salt of its own, so nothing new needs backing up."""
    from gateway.keys import Keyring

    return Keyring.for_database(db_path).derive(OTP_SALT).encode("ascii")


class Messaging:
    def __init__(self, store: Any, config: MessagingConfig, *, numbers: NumberPolicy,
                 secret: bytes, clock: Callable[[], datetime] = utcnow) -> None:
        runner: Runner = store
        self.store = store
        self.config = config
        self.number_policy = numbers
        self._clock = clock
        self.keywords = Keywords(config)
        self.policy = PolicyGate(runner, config, self.keywords, clock)
        self.contacts = Contacts(runner, self.normalise, clock,
                                 quick=lambda n: quick_e164(n, numbers.default_region))
        self.templates = Templates(runner, config, lambda: to_ms(clock()))
        self.rules = Rules(runner, config, clock)
        self.events = EventLog(runner, config)
        self.conversations = Conversations(runner, clock)
        self.otp = Otp(runner, config.otp, secret, clock)
        self.reports = Reports(runner, config, clock)
        self.campaigns = Campaigns(runner, store, config, lambda: self.number_policy, clock)
        self.processor = InboundProcessor(runner, store, config, keywords=self.keywords,
                                          rules=self.rules, clock=clock)
        self.processor.housekeeping += [self.otp.redact_sent, self.policy.prune]
        self._submit: SubmitFn | None = None

    # --- wiring --------------------------------------------------------------------------------

    def bind(self, submit: SubmitFn) -> None:
        """How the messaging layer sends (normally `Gateway.submit`: the policy gate applies)."""
        self._submit = submit
        self.processor.bind(submit)
        self.campaigns.bind(submit)

    def start(self) -> None:
        if self.config.enabled:
            self.processor.start()

    async def close(self) -> None:
        await self.processor.close()

    def notify_inbound(self, *_args: object) -> None:
        """Optional wake-up from the inbound handler after it committed a message; without
        it the processor still finds the message within `poll_interval_s`."""
        self.processor.notify()

    # --- helpers -------------------------------------------------------------------------------

    def lookup(self, number: str) -> NumberLookup:
        return lookup(number, self.number_policy)

    def normalise(self, number: str) -> str | None:
        found = self.lookup(number)
        return found.e164 if found.can_receive_sms else None

    def require_number(self, number: str, field: str = "to") -> str:
        found = self.lookup(number)
        if found.e164 is None or not found.can_receive_sms:
            raise MessagingError("invalid_number", found.reason, field)
        return found.e164

    async def _send(self, message: OutgoingMessage) -> SubmitResult:
        if self._submit is None:
            raise MessagingError("unavailable", "the gateway is not accepting messages")
        (result,) = await self._submit([message])
        return result

    async def render(self, template: Template, number: str | None,
                     fields: Mapping[str, Any]) -> str:
        values: dict[str, Any] = {"brand": self.config.brand}
        if number is not None:
            contact = await self.contacts.get(number)
            if contact is not None:
                values.update(contact.fields)
        values.update({k: v for k, v in fields.items() if v not in (None, "")})
        return template.compiled.render(values)

    async def template(self, name: str) -> Template:
        found = await self.templates.get(name)
        if found is None:
            raise MessagingError("not_found", f"no template {name!r}", "template")
        return found

    # --- sending from templates, events, agents ------------------------------------------------

    async def send_template(self, *, to: str, template: str, fields: Mapping[str, Any],
                            api_key: str, lane: Lane = Lane.NORMAL,
                            category: Category | None = None, send_at: datetime | None = None,
                            extra_meta: Mapping[str, Any] | None = None) -> Sent:
        number = self.require_number(to)
        found = await self.template(template)
        try:
            text = await self.render(found, number, fields)
        except TemplateError as exc:
            raise MessagingError("template", exc.detail, exc.field) from None
        meta = {META: {"template": found.name, "kind": "template", **(extra_meta or {})}}
        result = await self._send(OutgoingMessage(
            to=number, text=text, lane=lane, sender=api_key, api_key=api_key,
            category=category or found.category, send_at=send_at, metadata=meta))
        return Sent(result, text)

    async def trigger(self, *, event_type: str, to: str, fields: Mapping[str, Any],
                      api_key: str, send_at: datetime | None = None
                      ) -> tuple[Event, SubmitResult | None]:
        """An app's event fires the template bound to its type."""
        binding: Binding | None = await self.events.binding(event_type)
        if binding is None:
            raise MessagingError("not_found", f"no template is bound to event {event_type!r}",
                                 "type")
        number = self.require_number(to)
        now = self._clock()
        event = make_event(event_type, "api", now, number=number,
                           data={"fields": dict(fields), "api_key": api_key})
        sent = await self.send_template(
            to=number, template=binding.template, fields=fields, api_key=api_key,
            lane=binding.lane, category=binding.category, send_at=send_at,
            extra_meta={"event": event.id, "kind": "event"})
        message_id = None if isinstance(sent.result, Refused) else sent.result.message.id
        data = dict(event.data)
        if isinstance(sent.result, Refused):
            data["refused"] = {"code": sent.result.code, "reason": sent.result.reason}
        recorded = await self.events.record(
            make_event(event_type, "api", now, number=number, data=data,
                       message_id=message_id, event_id=event.id), to_ms(now))
        return recorded, sent.result

    async def agent_reply(self, thread_id: str, text: str, agent: str | None, api_key: str
                          ) -> tuple[Thread, SubmitResult]:
        thread = await self.conversations.prepare_reply(thread_id)
        if thread is None:
            raise MessagingError("not_found", f"no conversation {thread_id!r}")
        result = await self._send(OutgoingMessage(
            to=thread.number, text=text, lane=Lane.HIGH, sender=api_key, api_key=api_key,
            category=Category.TRANSACTIONAL,
            metadata=self.conversations.reply_metadata(thread, agent)))
        return thread, result

    async def verify_otp(self, code_id: str, code: str) -> Verification:
        """Check a code; a decided code's digits leave the stored message text at once."""
        outcome = await self.otp.verify(code_id, code)
        if outcome.state != "pending":
            await self.otp.redact_sent()
        return outcome

    async def send_otp(self, *, to: str, api_key: str, template: str | None = None,
                       length: int | None = None, ttl_s: int | None = None
                       ) -> tuple[str, datetime, SubmitResult]:
        number = self.require_number(to)
        source = self.config.otp.text
        if template is not None:
            source = (await self.template(template)).text
        template_fields = compiled(source).fields
        if "code" not in template_fields:
            raise MessagingError("template", "an OTP template needs a {code} field", "template")
        try:
            issued = await self.otp.issue(number, length=length, ttl_s=ttl_s)
        except OtpError as exc:
            raise MessagingError(exc.code, exc.detail, "to") from None
        ttl = ttl_s or self.config.otp.ttl_s
        try:
            text = compiled(source).render({"code": issued.code, "brand": self.config.brand,
                                            "minutes": max(1, round(ttl / 60))})
        except TemplateError as exc:
            await self.otp.attach(issued.id, None)
            raise MessagingError("template", exc.detail, exc.field) from None
        result = await self._send(OutgoingMessage(
            to=number, text=text, lane=Lane.OTP, sender=api_key, api_key=api_key,
            category=Category.TRANSACTIONAL, expires_at=issued.expires_at,
            metadata={META: {"kind": "otp", "otp": issued.id}}))
        await self.otp.attach(issued.id, None if isinstance(result, Refused)
                              else result.message.id)
        return issued.id, issued.expires_at, result


__all__ = ["Messaging", "MessagingError", "Sent", "secret_for_database"]

"""The policy gate every outbound message passes (`Submitter` calls `review` before the commit).

For each message, in this order:

1. **Opt-out**: a number that texted STOP gets nothing, in any category, on any SIM
   (`opted_out`; the Twilio endpoint answers 21610). A category whose consent was revoked is
   refused the same way.
2. **Consent**: marketing needs recorded consent (`no_consent`).
3. **Opt-out instruction**: a marketing text that does not say how to opt out gets the
   configured instruction appended (in the contact's language); the encoding and segment count
   are planned again, and a text that no longer fits `max_segments` is refused (`too_long`).
4. **Quiet hours** per category, in the recipient's local time (the contact's `time_zone`,
   else every zone libphonenumber gives the number, else `default_time_zone`): a message that
   would go out inside them is scheduled (`send_at`) for the next allowed time, never dropped.
   Its validity moves with it.
5. **Frequency caps** per recipient and category (`frequency_capped`): counted and recorded in
   one writer unit, so two concurrent submits cannot both take the last slot. An idempotent
   replay (same API key and Idempotency-Key) is not counted twice.

Messages the gateway sends itself about consent (the STOP confirmation, HELP answers) carry
`{"smsgw:messaging": {"bypass": true}}` in their metadata, a key API clients cannot set.
"""

from __future__ import annotations

import functools
import sqlite3
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import phonenumbers
from phonenumbers import timezone as pn_timezone

from drivers.pdu import count_text
from gateway.store.models import Category, NewMessage
from gateway.submit import Refused

from .config import MessagingConfig
from .contacts import Contact, get_contacts
from .db import META, Runner, chunks, marks, to_ms
from .keywords import Keywords, mentions_opt_out


def _meta(message: NewMessage) -> dict[str, Any]:
    meta = message.metadata.get(META) if message.metadata else None
    return meta if isinstance(meta, dict) else {}


def is_bypass(message: NewMessage) -> bool:
    """The gateway's own consent messages (STOP confirmation, HELP): never held back."""
    return _meta(message).get("bypass") is True


_ZONES: dict[str, tuple[str, ...]] = {}
ZONE_PREFIX = 7  # "+" and six digits: country code and area/range, e.g. +1212555, +491511


def zones_for_number(number: str) -> tuple[str, ...]:
    """libphonenumber's time zones for an E.164 number (empty when it cannot tell).

    Cached by the number's first digits: libphonenumber maps zones by prefix (country code and
    area code), so one look-up serves a whole campaign to one country."""
    key = number[:ZONE_PREFIX]
    found = _ZONES.get(key)
    if found is None:
        try:
            parsed = phonenumbers.parse(number)
        except phonenumbers.NumberParseException:
            return ()
        found = tuple(z for z in pn_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown")
        if len(_ZONES) > 100_000:
            _ZONES.clear()
        _ZONES[key] = found
    return found


@functools.lru_cache(maxsize=1024)
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _quiet(local: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def _next_end(at: datetime, zone: zoneinfo.ZoneInfo, start: time, end: time) -> datetime:
    """`at` if it is outside [start, end) local time, else the next `end` (UTC)."""
    local = at.astimezone(zone)
    if not _quiet(local.time(), start, end):
        return at
    day: date = local.date()
    if start > end and local.time() >= start:
        day += timedelta(days=1)
    if start < end and local.time() >= end:  # pragma: no cover - not quiet then
        day += timedelta(days=1)
    moment = datetime.combine(day, end, tzinfo=zone)
    return max(moment.astimezone(at.tzinfo), at)


def next_allowed(at: datetime, zones: Sequence[str], start: time, end: time) -> datetime:
    """The earliest time >= `at` outside the quiet period in every zone."""
    resolved = [z for z in (_zone(name) for name in zones) if z is not None]
    if not resolved:
        return at
    current = at
    for _ in range(8):
        moved = current
        for zone in resolved:
            moved = _next_end(moved, zone, start, end)
        if moved == current:
            return current
        current = moved
    return current  # zones whose allowed hours never overlap: the best effort is the last


@dataclass(frozen=True, slots=True)
class _Pending:
    index: int
    message: NewMessage
    category: Category


class PolicyGate:
    def __init__(self, runner: Runner, config: MessagingConfig, keywords: Keywords,
                 clock: Callable[[], datetime]) -> None:
        self._runner = runner
        self.config = config
        self.keywords = keywords
        self._clock = clock
        self._stop_words = keywords.stop_words()
        # per-category look-ups, made once: `review` runs for every message
        self._caps = {c: config.cap(c) for c in Category}
        self._quiet = {c: config.quiet(c) for c in Category}
        self._strangers = {c: Contact("").refusal(c) for c in Category}  # no contact row

    @property
    def default_category(self) -> Category:
        """What a message without a category is (`Submitter.check` fills it in)."""
        return self.config.default_category

    def zones(self, number: str, contact: Contact | None) -> tuple[str, ...]:
        if contact is not None and contact.time_zone:
            return (contact.time_zone,)
        return zones_for_number(number) or (self.config.default_time_zone,)

    def with_footer(self, text: str, contact: Contact | None) -> tuple[str, bool]:
        texts = self.config.texts_for(contact.language if contact else None)
        instruction = texts.opt_out_instruction.replace("{brand}", self.config.brand)
        if not instruction or mentions_opt_out(text, instruction, self._stop_words):
            return text, False
        return f"{text}\n{instruction}", True

    def schedule(self, message: NewMessage, category: Category, contact: Contact | None,
                 now: datetime) -> NewMessage:
        quiet = self._quiet[category]
        if quiet is None:
            return message
        wanted = max(message.send_at or now, now)
        allowed = next_allowed(wanted, self.zones(message.to, contact), quiet.start_time,
                               quiet.end_time)
        if allowed == wanted:
            return message
        expires = message.expires_at
        if expires is not None:
            expires = expires + (allowed - wanted)
        return replace(message, send_at=allowed, expires_at=expires)

    async def review(self, messages: Sequence[NewMessage], max_segments: int = 10
                     ) -> list[NewMessage | Refused]:
        """One verdict per message, in order: the message to store (maybe rewritten) or why
        it is refused."""
        out: list[NewMessage | Refused] = list(messages)
        if not self.config.enabled or not messages:
            return out
        now = self._clock()
        checked = [(i, m) for i, m in enumerate(messages) if not is_bypass(m)]
        if not checked:
            return out
        numbers = [m.to for _i, m in checked]
        # a primary-key look-up of the batch's numbers: inline, no thread round trip
        contacts: dict[str, Contact] = self._runner.read_inline(
            lambda c: get_contacts(c, numbers))
        capped: list[_Pending] = []
        for i, original in checked:
            message = original
            category = message.category or self.default_category  # set by Submitter.check
            contact = contacts.get(message.to)
            refusal = self._strangers[category] if contact is None else contact.refusal(category)
            if refusal is not None:
                out[i] = Refused(*refusal)
                continue
            if category is Category.MARKETING:
                text, added = self.with_footer(message.text, contact)
                if added:
                    plan = count_text(text)
                    if plan.segments > max_segments:
                        out[i] = Refused("too_long", f"{plan.segments} segments with the opt-out"
                                         f" instruction; at most {max_segments}")
                        continue
                    message = replace(message, text=text, encoding=plan.encoding.value,
                                      segments=plan.segments)
            out[i] = message = self.schedule(message, category, contact, now)
            if self._caps[category] is not None and not _meta(message).get("counted"):
                capped.append(_Pending(i, message, category))
        if capped:
            refused = await self._runner.run_in_writer(
                lambda c: self._count(c, capped, to_ms(now)))
            for index, reason in refused.items():
                out[index] = Refused("frequency_capped", reason)
        return out

    def _count(self, conn: sqlite3.Connection, items: list[_Pending], now_ms: int
               ) -> dict[int, str]:
        refused: dict[int, str] = {}
        by_category: dict[Category, list[_Pending]] = {}
        for item in items:
            by_category.setdefault(item.category, []).append(item)
        for category, group in by_category.items():
            cap = self._caps[category]
            assert cap is not None
            since = now_ms - int(cap.days * 86400 * 1000)
            counts: dict[str, int] = {}
            replays: set[str] = set()
            numbers = list({item.message.to for item in group})
            for part in chunks(numbers):
                counts.update(conn.execute(
                    f"SELECT number, count(*) FROM msg_sends WHERE category = ? AND at >= ?"
                    f" AND number IN ({marks(len(part))}) GROUP BY number",
                    (category.value, since, *part)).fetchall())
            keys = [k for item in group if (k := _dedupe(item.message)) is not None]
            for part in chunks(keys):
                replays.update(r[0] for r in conn.execute(
                    f"SELECT dedupe FROM msg_sends WHERE dedupe IN ({marks(len(part))})",
                    tuple(part)))
            rows: list[tuple[Any, ...]] = []
            for item in group:
                key = _dedupe(item.message)
                if key is not None and key in replays:
                    continue
                used = counts.get(item.message.to, 0)
                if used >= cap.max:
                    refused[item.index] = (
                        f"frequency cap: at most {cap.max} {category.value} messages in "
                        f"{cap.days:g} days to this recipient")
                    continue
                counts[item.message.to] = used + 1
                rows.append((item.message.to, category.value, now_ms, key))
            conn.executemany(
                "INSERT OR IGNORE INTO msg_sends (number, category, at, dedupe)"
                " VALUES (?, ?, ?, ?)", rows)
        return refused

    async def prune(self) -> int:
        """Drop cap records older than the longest window."""
        if not self.config.frequency_caps:
            return 0
        longest = max(cap.days for cap in self.config.frequency_caps)
        cutoff = to_ms(self._clock() - timedelta(days=longest + 1))
        removed: int = await self._runner.run_in_writer(lambda c: c.execute(
            "DELETE FROM msg_sends WHERE at < ?", (cutoff,)).rowcount)
        return removed


def _dedupe(message: NewMessage) -> str | None:
    if message.idempotency_key is None:
        return None
    return f"{message.api_key}\x1f{message.idempotency_key}"


__all__ = ["PolicyGate", "is_bypass", "next_allowed", "zones_for_number"]

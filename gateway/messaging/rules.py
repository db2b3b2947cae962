"""Keyword rules and simple dialogues: match an inbound message, then act.

A rule matches when every condition it gives holds: `keyword` (whole message, case and
punctuation insensitive), `regex` (searched, case insensitive), and `in_reply_to_campaign`,
`in_reply_to_message` or `in_reply_to_template` (the last message the gateway sent this number
within `reply_window_hours` came from that campaign/template or is that message). A `survey`
rule also needs a whole number on its scale. Rules are tried by `priority` (lower first), then
configuration rules before API rules; the first match acts:

- `reply` / `reply_template`: an auto-reply through the SIM the customer wrote to (rendered
  with the contact's fields, `{text}` and `{number}`);
- `set_fields`: store values on the contact (`{"callback": "requested", "note": "{text}"}`);
- `event`: raise an event (logged, and a webhook to subscribed endpoints), `webhook`: also to
  this URL;
- `handoff`: flag the conversation for an agent (and raise `conversation.handoff`);
- `survey`: store the answer against the message replied to (reported per campaign/template).

Examples (TOML, `[[messaging.rules]]`):

    # "We noticed you didn't get through today, would you like a callback? Reply YES"
    [[messaging.rules]]
    name = "callback"
    match = { keyword = ["YES", "Y"], in_reply_to_template = "callback_offer" }
    actions = { event = "callback.requested", reply = "Thanks, we will call you back shortly." }

    # "Reply 1 for balance, 2 for an agent"
    [[messaging.rules]]
    name = "menu-balance"
    match = { keyword = ["1"], in_reply_to_template = "menu" }
    actions = { reply = "Your balance is {balance}." }
    [[messaging.rules]]
    name = "menu-agent"
    match = { keyword = ["2"], in_reply_to_template = "menu" }
    actions = { handoff = true, reply = "An agent will text you shortly." }

    # "How happy were you with our service today? Reply 1 (poor) to 5 (great)"
    [[messaging.rules]]
    name = "survey"
    match = { regex = "^\\s*[1-5]\\s*$", in_reply_to_template = "survey" }
    actions = { survey = true, reply = "Thank you for your feedback!" }
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .config import MessagingConfig, RuleConfig
from .db import Runner, new_id, to_ms
from .keywords import matches_any


@dataclass(frozen=True, slots=True)
class ReplyContext:
    """The outbound message an inbound one answers (the latest one within the window)."""

    message_id: str
    campaign_id: str | None
    template: str | None
    kind: str | None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    spec: RuleConfig
    source: str  # config | api
    enabled: bool = True
    api_key: str = ""

    @property
    def name(self) -> str:
        return self.spec.name

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "enabled": self.enabled,
                **self.spec.model_dump(mode="json", exclude_none=True)}


@functools.lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def survey_score(rule: RuleConfig, text: str) -> int | None:
    low, high = rule.actions.survey_scale
    word = text.strip().rstrip(".!")
    if not word.isdigit() or len(word) > 3:
        return None
    score = int(word)
    return score if low <= score <= high else None


def matches(rule: RuleConfig, text: str, reply: ReplyContext | None) -> bool:
    m = rule.match
    if m.keyword and not matches_any(text, m.keyword):
        return False
    if m.regex and _regex(m.regex).search(text[:2000]) is None:
        return False
    if m.in_reply_to_campaign and (reply is None or reply.campaign_id != m.in_reply_to_campaign):
        return False
    if m.in_reply_to_template and (reply is None or reply.template != m.in_reply_to_template):
        return False
    if m.in_reply_to_message and (reply is None
                                  or reply.message_id.upper() != m.in_reply_to_message.upper()):
        return False
    return not (rule.actions.survey and survey_score(rule, text) is None)


def first_match(rules: list[Rule], text: str, reply: ReplyContext | None) -> Rule | None:
    for rule in rules:
        if rule.enabled and matches(rule.spec, text, reply):
            return rule
    return None


def load_api_rules(conn: sqlite3.Connection) -> list[Rule]:
    rows = conn.execute(
        "SELECT id, spec, enabled, api_key FROM msg_rules ORDER BY priority, created_at"
    ).fetchall()
    out = []
    for row in rows:
        try:
            spec = RuleConfig.model_validate_json(row[1])
        except ValueError:  # pragma: no cover - written by this code, validated before
            continue
        out.append(Rule(row[0], spec, "api", bool(row[2]), row[3]))
    return out


class Rules:
    """Configuration rules plus API rules, cached until the API changes them."""

    def __init__(self, runner: Runner, config: MessagingConfig,
                 clock: Callable[[], datetime]) -> None:
        self._runner = runner
        self._clock = clock
        self._configured = [Rule(f"config:{i}", spec, "config")
                            for i, spec in enumerate(config.rules)]
        self._cache: list[Rule] | None = None

    async def all(self) -> list[Rule]:
        if self._cache is None:
            stored = await self._runner.run_in_reader(load_api_rules)
            merged = [*self._configured, *stored]
            merged.sort(key=lambda r: (r.spec.priority, r.source != "config"))
            self._cache = merged
        return self._cache

    def load_in(self, conn: sqlite3.Connection) -> list[Rule]:
        """The same list, read inside a unit of work (the inbound processor's)."""
        if self._cache is None:
            merged = [*self._configured, *load_api_rules(conn)]
            merged.sort(key=lambda r: (r.spec.priority, r.source != "config"))
            self._cache = merged
        return self._cache

    async def get(self, rule_id: str) -> Rule | None:
        return next((r for r in await self.all() if r.id == rule_id), None)

    async def create(self, spec: RuleConfig, api_key: str, enabled: bool = True) -> Rule:
        rule = Rule(new_id("rule_"), spec, "api", enabled, api_key)
        now = to_ms(self._clock())
        await self._runner.run_in_writer(lambda c: c.execute(
            "INSERT INTO msg_rules (id, name, priority, spec, enabled, api_key, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (rule.id, spec.name, spec.priority, spec.model_dump_json(), int(enabled), api_key,
             now, now)))
        self._cache = None
        return rule

    async def update(self, rule_id: str, spec: RuleConfig, enabled: bool) -> Rule | None:
        now = to_ms(self._clock())
        changed: int = await self._runner.run_in_writer(lambda c: c.execute(
            "UPDATE msg_rules SET name = ?, priority = ?, spec = ?, enabled = ?, updated_at = ?"
            " WHERE id = ?",
            (spec.name, spec.priority, spec.model_dump_json(), int(enabled), now, rule_id)
        ).rowcount)
        self._cache = None
        return await self.get(rule_id) if changed else None

    async def delete(self, rule_id: str) -> bool:
        removed: int = await self._runner.run_in_writer(lambda c: c.execute(
            "DELETE FROM msg_rules WHERE id = ?", (rule_id,)).rowcount)
        self._cache = None
        return removed > 0


__all__ = ["ReplyContext", "Rule", "Rules", "first_match", "matches", "survey_score"]

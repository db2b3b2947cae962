"""What happens to a received message: keywords first, then rules, then conversation threading.

The processor reads the store's inbound feed (`inbound_messages` by `seq`) from its own cursor,
so a message committed just before a crash is still handled after the restart: nothing depends
on a callback having run. Each message is handled in one writer transaction that records the
consent change, the thread, the rule's effects (contact fields, survey answer, events and their
webhooks), the replies owed, and moves the cursor. Replies are then submitted from that outbox
with an idempotency key, so each goes out exactly once even across a crash; the STOP
confirmation and HELP answers pass the policy gate (`bypass`), everything else does not.

After a STOP, messages still queued or scheduled to that number are canceled: the opt-out takes
effect at once on every SIM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from gateway.logging import log_event
from gateway.numbers import redact_number
from gateway.store.errors import NotCancelableError, NotFoundError, StoreClosedError
from gateway.store.models import Category, Lane, MessageQuery, MessageStatus
from gateway.submit import OutgoingMessage, Refused, SubmitResult
from gateway.tasks import cancel_and_wait

from .config import MessagingConfig, RuleConfig
from .contacts import Contact, get_contact, set_opted_out, set_profile
from .conversations import pin_sim, upsert_inbound
from .db import META, SYSTEM_KEY, Runner, dumps, loads, to_ms
from .events import HANDOFF, OPTED_IN, OPTED_OUT, SURVEY_ANSWERED, make_event, record_event
from .keywords import KeywordHit, KeywordKind, Keywords
from .rules import ReplyContext, Rule, Rules, first_match, survey_score
from .templates import TemplateError, render

_LOG = logging.getLogger(__name__)
FEED = "inbound"
BATCH = 100
SYSTEM_KINDS = frozenset({"stop", "start", "help"})

SubmitFn = Callable[[Sequence[OutgoingMessage]], Awaitable[list[SubmitResult]]]


class _Inbound(NamedTuple):
    seq: int
    id: str
    modem_id: str
    sender: str
    text: str


@dataclass(slots=True)
class _Batch:
    handled: int = 0
    opted_out: list[str] = field(default_factory=list)


def last_outbound(conn: sqlite3.Connection, number: str, since_ms: int) -> ReplyContext | None:
    """The latest message the gateway sent this number (not a keyword answer) in the window."""
    rows = conn.execute(
        "SELECT id, metadata FROM messages WHERE to_number = ? AND updated_at >= ?"
        " AND status NOT IN ('canceled', 'queued', 'scheduled') ORDER BY seq DESC LIMIT 10",
        (number, since_ms)).fetchall()
    for message_id, raw in rows:
        meta = (loads(raw) or {}).get(META) or {}
        kind = meta.get("kind") if isinstance(meta, dict) else None
        if kind in SYSTEM_KINDS:
            continue
        return ReplyContext(message_id, meta.get("campaign"), meta.get("template"), kind)
    return None


def template_text(conn: sqlite3.Connection, config: MessagingConfig, name: str) -> str | None:
    entry = config.template(name)
    if entry is not None:
        return entry.text
    row = conn.execute("SELECT text FROM msg_templates WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


class InboundProcessor:
    def __init__(self, runner: Runner, store: Any, config: MessagingConfig, *,
                 keywords: Keywords, rules: Rules, clock: Callable[[], datetime]) -> None:
        self._runner = runner
        self._store = store
        self.config = config
        self.keywords = keywords
        self.rules = rules
        self._clock = clock
        self._submit: SubmitFn | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.housekeeping: list[Callable[[], Awaitable[object]]] = []
        self._next_upkeep = 0.0

    def bind(self, submit: SubmitFn) -> None:
        self._submit = submit

    def notify(self, *_args: object) -> None:
        """Wake the processor now (the inbound handler committed a message)."""
        self._wake.set()

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="messaging-inbound")

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            busy = False
            try:
                busy = await self.step() > 0
                if loop.time() >= self._next_upkeep:
                    self._next_upkeep = loop.time() + 10.0
                    for job in self.housekeeping:
                        await job()
            except StoreClosedError:
                return
            except Exception:
                _LOG.exception("messaging: inbound step failed; retrying")
            if busy:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.poll_interval_s):
                    await self._wake.wait()

    # --- one pass ------------------------------------------------------------------------------

    async def step(self) -> int:
        """Handle what arrived since the cursor, cancel what an opt-out stops, send replies."""
        now = self._clock()
        batch = await self._runner.run_in_writer(lambda c: self._process(c, now))
        for number in batch.opted_out:
            await self._cancel_queued(number)
        await self.flush_replies()
        return batch.handled

    def _process(self, conn: sqlite3.Connection, now: datetime) -> _Batch:
        row = conn.execute("SELECT position FROM msg_cursors WHERE feed = ?", (FEED,)).fetchone()
        after = int(row[0]) if row else 0
        rows = conn.execute(
            "SELECT seq, id, modem_id, sender, text, encoding FROM inbound_messages"
            " WHERE seq > ? ORDER BY seq LIMIT ?", (after, BATCH)).fetchall()
        out = _Batch()
        if not rows:
            return out
        rules = self.rules.load_in(conn)
        for seq, inbound_id, modem_id, sender, text, encoding in rows:
            out.handled += 1
            if not sender or encoding == "undecodable":
                continue
            if self._one(conn, now, _Inbound(int(seq), inbound_id, modem_id, sender, text),
                         rules):
                out.opted_out.append(sender)
        conn.execute(
            "INSERT INTO msg_cursors (feed, position) VALUES (?, ?) ON CONFLICT (feed)"
            " DO UPDATE SET position = excluded.position", (FEED, int(rows[-1][0])))
        return out

    def _language(self, contact: Contact | None, hit: KeywordHit | None) -> str:
        if contact is not None and contact.language and (
                hit is None or contact.language in hit.languages):
            return contact.language
        if hit is not None and hit.languages:
            return hit.languages[0]
        return self.config.default_language

    def _one(self, conn: sqlite3.Connection, now: datetime, inbound: _Inbound,
             rules: list[Rule]) -> bool:
        seq, inbound_id, modem_id, number, text = inbound
        now_ms = to_ms(now)
        contact = get_contact(conn, number)
        hit = self.keywords.match(text)
        window = to_ms(now - timedelta(hours=self.config.reply_window_hours))
        reply_to = last_outbound(conn, number, window)
        texts = self.config.texts_for(self._language(contact, hit))
        brand = {"brand": self.config.brand}
        kind, rule_name, handoff = "text", None, None
        replies: list[tuple[str, str, dict[str, Any]]] = []  # (kind, text, meta)
        opted_out = False
        detail = f"{hit.keyword if hit else text[:20]} to {modem_id}"
        if hit is not None and hit.kind is KeywordKind.STOP:
            kind = "stop"
            opted_out = True
            if set_opted_out(conn, number, True, source="keyword", detail=detail,
                             now_ms=now_ms):
                record_event(conn, make_event(OPTED_OUT, "keyword", now, number=number,
                                              inbound_id=inbound_id,
                                              data={"keyword": hit.keyword,
                                                    "modem_id": modem_id}), now_ms)
                if self.config.confirm_opt_out:
                    replies.append(("stop", texts.stop_confirmation, {"bypass": True}))
        elif hit is not None and hit.kind is KeywordKind.HELP:
            kind = "help"
            replies.append(("help", texts.help_text, {"bypass": True}))
        elif hit is not None and hit.kind is KeywordKind.START and contact is not None \
                and contact.opted_out:
            kind = "start"
            set_opted_out(conn, number, False, source="keyword", detail=detail, now_ms=now_ms)
            record_event(conn, make_event(OPTED_IN, "keyword", now, number=number,
                                          inbound_id=inbound_id,
                                          data={"keyword": hit.keyword, "modem_id": modem_id}),
                         now_ms)
            replies.append(("start", texts.start_confirmation, {}))
        else:
            rule = first_match(rules, text, reply_to)
            if rule is not None:
                kind, rule_name = "rule", rule.name
                handoff, rule_replies = self._act(conn, now, rule, inbound, contact=contact,
                                                  reply_to=reply_to)
                replies.extend(rule_replies)
            elif self.keywords.is_handoff(text):
                kind, handoff = "handoff", "asked for an agent"
        thread_id = upsert_inbound(conn, number, modem_id, now_ms, handoff)
        if handoff is not None:
            record_event(conn, make_event(HANDOFF, "handoff", now, number=number,
                                          inbound_id=inbound_id,
                                          data={"thread_id": thread_id, "modem_id": modem_id,
                                                "reason": handoff, "text": text[:500]}),
                         now_ms)
        conn.execute(
            "INSERT OR IGNORE INTO msg_inbound_log (inbound_seq, inbound_id, number, modem_id,"
            " thread_id, kind, rule, in_reply_to, campaign_id, template, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, inbound_id, number, modem_id, thread_id, kind, rule_name,
             reply_to.message_id if reply_to else None,
             reply_to.campaign_id if reply_to else None,
             reply_to.template if reply_to else None, now_ms))
        for reply_kind, reply_text, reply_meta in replies:
            body = reply_text.replace("{brand}", brand["brand"])
            meta = {**reply_meta, "kind": reply_kind, "thread": thread_id, "inbound": inbound_id}
            lane = Lane.HIGH.value
            conn.execute(
                "INSERT OR IGNORE INTO msg_replies (dedupe, number, modem_id, text, kind,"
                " category, lane, metadata, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (f"{inbound_id}:{reply_kind}", number, modem_id, body, reply_kind,
                 Category.TRANSACTIONAL.value, lane, dumps(meta), now_ms, now_ms))
        log_event(_LOG, "messaging_inbound", level=logging.DEBUG, message=inbound_id,
                  sender=redact_number(number), kind=kind, rule=rule_name)
        return opted_out

    def _act(self, conn: sqlite3.Connection, now: datetime, rule: Rule, inbound: _Inbound, *,
             contact: Contact | None, reply_to: ReplyContext | None
             ) -> tuple[str | None, list[tuple[str, str, dict[str, Any]]]]:
        _seq, inbound_id, modem_id, number, text = inbound
        spec: RuleConfig = rule.spec
        actions = spec.actions
        now_ms = to_ms(now)
        values: dict[str, Any] = {**(contact.fields if contact else {}), "text": text.strip(),
                                  "number": number, "brand": self.config.brand}
        context = {"rule": spec.name, "text": text[:500], "modem_id": modem_id,
                   "in_reply_to": reply_to.message_id if reply_to else None,
                   "campaign_id": reply_to.campaign_id if reply_to else None,
                   "template": reply_to.template if reply_to else None}
        if actions.set_fields:
            fields: dict[str, Any] = {}
            for name, value in actions.set_fields.items():
                try:
                    fields[name] = render(value, values)
                except TemplateError as exc:
                    _LOG.warning("rule %s: field %s not set: %s", spec.name, name, exc.detail)
            if fields:
                set_profile(conn, number, now_ms=now_ms, fields=fields)
                values.update(fields)
        if actions.survey:
            score = survey_score(spec, text)
            conn.execute(
                "INSERT OR IGNORE INTO msg_survey_answers (inbound_id, message_id, number, score,"
                " campaign_id, template, rule, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (inbound_id, context["in_reply_to"], number, score, context["campaign_id"],
                 context["template"], spec.name, now_ms))
            record_event(conn, make_event(SURVEY_ANSWERED, "survey", now, number=number,
                                          inbound_id=inbound_id, message_id=reply_to.message_id
                                          if reply_to else None,
                                          data={**context, "score": score}), now_ms)
        if actions.event or actions.webhook:
            record_event(conn, make_event(actions.event or "rule.matched", "rule", now,
                                          number=number, inbound_id=inbound_id,
                                          message_id=reply_to.message_id if reply_to else None,
                                          data=context),
                         now_ms, webhook=actions.webhook, signer=rule.api_key or None)
        replies: list[tuple[str, str, dict[str, Any]]] = []
        source = actions.reply
        if actions.reply_template:
            source = template_text(conn, self.config, actions.reply_template) or source
        if source:
            try:
                body = render(source, values)
            except TemplateError as exc:
                _LOG.warning("rule %s: no reply: %s", spec.name, exc.detail)
            else:
                replies.append(("rule", body, {"rule": spec.name,
                                               "template": actions.reply_template}))
        return (f"rule {spec.name}" if actions.handoff else None), replies

    # --- after the commit ----------------------------------------------------------------------

    async def _cancel_queued(self, number: str) -> int:
        canceled = 0
        for status in (MessageStatus.QUEUED, MessageStatus.SCHEDULED):
            cursor: str | None = None
            while True:
                page = await self._store.list_messages(
                    MessageQuery(status=status, to=number, cursor=cursor, limit=200))
                for message in page.messages:
                    meta = (message.metadata or {}).get(META) or {}
                    if isinstance(meta, dict) and meta.get("bypass"):
                        continue
                    with contextlib.suppress(NotCancelableError, NotFoundError):
                        await self._store.cancel(message.id)
                        canceled += 1
                cursor = page.next_cursor
                if cursor is None:
                    break
        if canceled:
            log_event(_LOG, "messaging_opt_out_canceled", number=redact_number(number),
                      canceled=canceled)
        return canceled

    async def flush_replies(self) -> int:
        """Submit the replies owed; each exactly once (idempotency key per reply)."""
        if self._submit is None:
            return 0
        rows = await self._runner.run_in_reader(lambda c: c.execute(
            "SELECT id, number, modem_id, text, category, lane, metadata FROM msg_replies"
            " WHERE state = 'pending' ORDER BY id LIMIT 200").fetchall())
        if not rows:
            return 0
        now_ms = to_ms(self._clock())
        pins = [(r[1], r[2]) for r in rows if r[2]]

        def pin(conn: sqlite3.Connection) -> None:
            for number, modem_id in pins:
                pin_sim(conn, number, modem_id, now_ms)

        await self._runner.run_in_writer(pin)
        outgoing = [
            OutgoingMessage(to=r[1], text=r[3], lane=Lane(r[5]), category=Category(r[4]),
                            sender=SYSTEM_KEY, api_key=SYSTEM_KEY,
                            idempotency_key=f"reply:{r[0]}",
                            metadata={META: loads(r[6]) or {}})
            for r in rows
        ]
        results = await self._submit(outgoing)
        done: list[tuple[str, str | None, str | None, int]] = []
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, Refused):
                done.append(("refused", None, f"{result.code}: {result.reason}", row[0]))
            else:
                done.append(("done", result.message.id, None, row[0]))

        def mark(conn: sqlite3.Connection) -> None:
            conn.executemany("UPDATE msg_replies SET state = ?, message_id = ?, detail = ?,"
                             f" updated_at = {now_ms} WHERE id = ?", done)

        await self._runner.run_in_writer(mark)
        return len(done)


__all__ = ["InboundProcessor", "SubmitFn", "last_outbound", "template_text"]

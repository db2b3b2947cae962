"""Received messages: keywords first, then rules, then the conversation thread."""

from __future__ import annotations

import json
import sqlite3

from gateway.messaging.config import (
    MessagingConfig,
    RuleActions,
    RuleConfig,
    RuleMatch,
    TemplateConfig,
)
from gateway.store.models import Category, MessageQuery, MessageStatus
from gateway.submit import Refused
from tests.messaging.msgrig import MessagingRig

ANN = "+4915112345678"


async def queued_texts(rig: MessagingRig, number: str) -> list[str]:
    page = await rig.s.list_messages(MessageQuery(to=number, limit=100))
    return [m.text for m in reversed(page.messages) if m.status is not MessageStatus.CANCELED]


async def test_stop_opts_out_everywhere_with_one_confirmation(rig: MessagingRig) -> None:
    await rig.start(brand="Acme")
    earlier = await rig.send(ANN, "Reminder for tomorrow")
    assert not isinstance(earlier, Refused)
    await rig.receive(ANN, "Stop.", modem="modem1")
    contact = await rig.m.contacts.get(ANN)
    assert contact is not None and contact.opted_out
    # the queued reminder was canceled; exactly one confirmation, pinned to modem1
    detail = await rig.s.get_message(earlier.message.id)
    assert detail is not None and detail.message.status is MessageStatus.CANCELED
    assert await queued_texts(rig, ANN) == [
        "Acme: you are unsubscribed and will get no more messages. Reply START to resubscribe."]
    refused = await rig.send(ANN, "Your parcel")
    assert isinstance(refused, Refused) and refused.code == "opted_out"
    await rig.receive(ANN, "STOP", modem="modem2")  # again: no second confirmation
    assert len(await queued_texts(rig, ANN)) == 1
    events = await rig.m.events.find(event_type="contact.opted_out")
    assert len(events) == 1 and events[0].data["keyword"] == "STOP"
    history = await rig.m.contacts.history(ANN)
    assert [(e.action, e.source) for e in history] == [("opt_out", "keyword")]
    rows = await rig.s.run_in_reader(lambda c: c.execute(
        "SELECT number, modem_id FROM conversations").fetchall())
    assert rows == [(ANN, "modem2")]


async def test_help_is_answered_even_when_opted_out_and_start_lifts_it(
        rig: MessagingRig) -> None:
    await rig.start()
    await rig.receive(ANN, "STOP")
    await rig.receive(ANN, "help")
    texts = await queued_texts(rig, ANN)
    assert texts[-1].startswith("smsgw customer service")
    await rig.receive(ANN, "START")
    contact = await rig.m.contacts.get(ANN)
    assert contact is not None and not contact.opted_out
    assert "subscribed again" in (await queued_texts(rig, ANN))[-1]
    assert not isinstance(await rig.send(ANN, "Back in business"), Refused)


def rules_config() -> MessagingConfig:
    return MessagingConfig(
        templates=[
            TemplateConfig(
                name="callback_offer",
                text="We noticed you didn't get through today, would you like a callback? "
                     "Reply YES"),
            TemplateConfig(name="menu", text="Reply 1 for balance, 2 for an agent"),
            TemplateConfig(name="survey", text="How did we do? Reply 1 (poor) to 5 (great)"),
        ],
        rules=[
            RuleConfig(name="callback",
                       match=RuleMatch(keyword=["YES", "Y"],
                                       in_reply_to_template="callback_offer"),
                       actions=RuleActions(event="callback.requested",
                                           set_fields={"callback": "requested"},
                                           reply="Thanks {first_name}, we will call you back.")),
            RuleConfig(name="balance", match=RuleMatch(keyword=["1"], in_reply_to_template="menu"),
                       actions=RuleActions(reply="Your balance is {balance}.")),
            RuleConfig(name="agent", match=RuleMatch(keyword=["2"], in_reply_to_template="menu"),
                       actions=RuleActions(handoff=True, reply="An agent will text you soon.")),
            RuleConfig(name="survey",
                       match=RuleMatch(regex=r"^\s*\d\s*$", in_reply_to_template="survey"),
                       actions=RuleActions(survey=True, reply="Thank you for your feedback!")),
        ],
    )


async def test_yes_for_a_callback_raises_the_event(rig: MessagingRig) -> None:
    await rig.start(rules_config())
    await rig.m.contacts.update(ANN, fields={"first_name": "Ann"})
    sent = await rig.m.send_template(to=ANN, template="callback_offer", fields={},
                                     api_key="app")
    assert not isinstance(sent.result, Refused)
    await _mark_sent(rig, sent.result.message.id)
    await rig.receive(ANN, "Yes!")  # YES from a subscribed number is not an opt-in keyword
    (event,) = await rig.m.events.find(event_type="callback.requested")
    assert event.number == ANN and event.data["in_reply_to"] == sent.result.message.id
    assert event.data["template"] == "callback_offer"
    assert (await queued_texts(rig, ANN))[-1] == "Thanks Ann, we will call you back."
    contact = await rig.m.contacts.get(ANN)
    assert contact is not None and contact.fields["callback"] == "requested"
    # a YES that answers nothing in particular does nothing
    await rig.receive("+4915112345600", "yes")
    assert len(await rig.m.events.find(event_type="callback.requested")) == 1


async def test_menu_dialogue_and_handoff(rig: MessagingRig) -> None:
    await rig.start(rules_config())
    await rig.m.contacts.update(ANN, fields={"balance": "12.40 EUR"})
    sent = await rig.m.send_template(to=ANN, template="menu", fields={}, api_key="app")
    assert not isinstance(sent.result, Refused)
    await _mark_sent(rig, sent.result.message.id)
    await rig.receive(ANN, "1")
    assert (await queued_texts(rig, ANN))[-1] == "Your balance is 12.40 EUR."
    await rig.receive(ANN, "2")
    assert (await queued_texts(rig, ANN))[-1] == "An agent will text you soon."
    (thread,) = await rig.m.conversations.inbox(needs_agent=True)
    assert thread.number == ANN and thread.modem_id == "modem0"
    assert thread.flag_reason == "rule agent"
    (event,) = await rig.m.events.find(event_type="conversation.handoff")
    assert event.data["thread_id"] == thread.id
    # the agent answers through the thread's SIM; the flag comes down
    _thread, result = await rig.m.agent_reply(thread.id, "Hi, this is Sam.", "sam", "agent-key")
    assert not isinstance(result, Refused)
    (thread,) = await rig.m.conversations.inbox()
    assert not thread.needs_agent
    messages = await rig.m.conversations.messages(thread)
    assert [m.direction for m in messages][-1] == "out"
    assert messages[-1].text == "Hi, this is Sam."
    assert [m.text for m in messages if m.direction == "in"] == ["1", "2"]


async def test_survey_answers_are_stored_against_the_message(rig: MessagingRig) -> None:
    await rig.start(rules_config())
    sent = await rig.m.send_template(to=ANN, template="survey", fields={}, api_key="app")
    assert not isinstance(sent.result, Refused)
    await _mark_sent(rig, sent.result.message.id)
    await rig.receive(ANN, "4")
    await rig.receive(ANN, "9")  # off the scale: not an answer (goes to the inbox)
    rows = await rig.s.run_in_reader(lambda c: c.execute(
        "SELECT message_id, score, template FROM msg_survey_answers").fetchall())
    assert rows == [(sent.result.message.id, 4, "survey")]
    (event,) = await rig.m.events.find(event_type="survey.answered")
    assert event.data["score"] == 4


async def test_events_reach_subscribed_webhook_endpoints(rig: MessagingRig) -> None:
    await rig.start(rules_config())
    now = 1_700_000_000_000

    def add(conn: sqlite3.Connection) -> None:
        for ident, events in (("wh_all", "messaging.*"), ("wh_cb", "callback.requested"),
                              ("wh_other", "message.status")):
            conn.execute(
                "INSERT INTO webhook_endpoints (id, url, events, format, secret, api_key,"
                " created_at) VALUES (?, ?, ?, 'standard', 'whsec_x', 'admin', ?)",
                (ident, f"https://example.invalid/{ident}", events, now))

    await rig.s.run_in_writer(add)
    sent = await rig.m.send_template(to=ANN, template="callback_offer", fields={},
                                     api_key="app")
    assert not isinstance(sent.result, Refused)
    await _mark_sent(rig, sent.result.message.id)
    await rig.receive(ANN, "YES")
    rows = await rig.s.run_in_reader(lambda c: c.execute(
        "SELECT endpoint_id, event_type, payload FROM webhook_outbox"
        " WHERE event_type = 'callback.requested' ORDER BY endpoint_id").fetchall())
    assert [r[0] for r in rows] == ["wh_all", "wh_cb"]
    payload = json.loads(rows[0][2])
    assert payload["type"] == "callback.requested" and payload["data"]["number"] == ANN


async def test_conversations_thread_per_number_and_sim(rig: MessagingRig) -> None:
    await rig.start()
    await rig.receive(ANN, "Hello?", modem="modem0")
    await rig.receive(ANN, "Anyone?", modem="modem1")
    await rig.receive(ANN, "agent")
    threads = await rig.m.conversations.inbox()
    assert sorted((t.modem_id, t.needs_agent) for t in threads) == [
        ("modem0", True), ("modem1", False)]
    first = next(t for t in threads if t.modem_id == "modem0")
    await rig.m.conversations.assign(first.id, "sam")
    closed = await rig.m.conversations.close(first.id)
    assert closed is not None and closed.status == "closed" and closed.assignee == "sam"
    await rig.receive(ANN, "one more thing", modem="modem0")
    reopened = await rig.m.conversations.get(first.id)
    assert reopened is not None and reopened.status == "open"


async def test_a_reply_is_sent_once_even_if_the_flush_repeats(rig: MessagingRig) -> None:
    await rig.start()
    await rig.receive(ANN, "HELP")
    await rig.s.run_in_writer(lambda c: c.execute("UPDATE msg_replies SET state = 'pending'"))
    await rig.m.processor.flush_replies()
    assert len(await queued_texts(rig, ANN)) == 1


async def test_rules_from_the_api_are_used(rig: MessagingRig) -> None:
    await rig.start()
    await rig.m.rules.create(RuleConfig(name="hours", match=RuleMatch(regex=r"open|hours"),
                                        actions=RuleActions(reply="We are open 9-17.")),
                             api_key="admin")
    await rig.receive(ANN, "When are you open?")
    assert await queued_texts(rig, ANN) == ["We are open 9-17."]


async def test_marketing_replies_to_an_opted_out_number_stay_refused(
        rig: MessagingRig) -> None:
    await rig.start()
    await rig.receive(ANN, "STOP")
    result = await rig.send(ANN, "Offer", category=Category.MARKETING)
    assert isinstance(result, Refused) and result.code == "opted_out"


async def _mark_sent(rig: MessagingRig, message_id: str) -> None:
    """What a modem would do: claim and send (the reply window counts sent messages)."""
    from gateway.store.models import ClaimRequest, Lane

    job = await rig.s.claim(ClaimRequest(
        modem_id="modem0", lanes=tuple(Lane), pools=("",), now=rig.clock(),
        day="2025-03-10", month="2025-03"))
    assert job is not None and job.message_id == message_id
    await rig.s.part_sent(job, 1, 7)

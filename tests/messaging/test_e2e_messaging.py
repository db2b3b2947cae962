"""Messaging end to end: simulated handsets text the gateway's SIMs over ptys, the gateway
answers through the HTTP API and the modems."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.messaging.config import (
    EventBinding,
    MessagingConfig,
    OtpConfig,
    RuleActions,
    RuleConfig,
    RuleMatch,
    TemplateConfig,
)
from sim.network import AutoReply
from tests.messaging.e2erig import MessagingE2E, eventually

pytestmark = pytest.mark.timeout(60)

ANN = "+4915112340001"


def config() -> MessagingConfig:
    return MessagingConfig(
        brand="Acme",
        otp=OtpConfig(max_attempts=3),
        templates=[
            TemplateConfig(
                name="callback_offer",
                text="Hi {name}, we noticed you didn't get through today, would you like a "
                     "callback? Reply YES"),
            TemplateConfig(name="survey", text="How did we do today? Reply 1 (poor) to 5 (great)"),
            TemplateConfig(name="promo", text="Hi {first_name}, new offers for you!",
                                    category="marketing"),  # type: ignore[arg-type]
        ],
        events=[EventBinding(type="call.abandoned", template="callback_offer")],
        rules=[
            RuleConfig(name="callback", match=RuleMatch(keyword=["YES"],
                                                        in_reply_to_template="callback_offer"),
                       actions=RuleActions(event="callback.requested",
                                           reply="Thanks, we will call you back shortly.")),
            RuleConfig(name="survey", match=RuleMatch(regex=r"^\s*\d\s*$",
                                                      in_reply_to_template="survey"),
                       actions=RuleActions(survey=True, reply="Thank you for your feedback!")),
        ],
    )


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[MessagingE2E]:
    rig = MessagingE2E(tmp_path)
    try:
        yield await rig.start(config())
    finally:
        await rig.close()


async def test_stop_from_a_handset_blocks_every_sim_with_one_confirmation(
        gw: MessagingE2E) -> None:
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    status, scheduled = await gw.call("POST", "/api/v1/messages",
                                      json={"to": ANN, "text": "See you later", "send_at": later})
    assert status == 202, scheduled
    gw.rig.sim.net.send_from_handset(ANN, "modem1", "Stop")
    texts = await eventually(lambda: gw.handset_texts(ANN) or None, within=15,
                             what="the opt-out confirmation")
    assert texts == ["Acme: you are unsubscribed and will get no more messages. "
                     "Reply START to resubscribe."]
    status, body = await gw.call("POST", "/api/v1/messages", json={"to": ANN, "text": "Hi"})
    assert status == 422 and body["type"] == "urn:smsgw:problem:opted-out"
    status, body = await gw.call(
        "POST", "/2010-04-01/Accounts/admin/Messages.json", data={"To": ANN, "Body": "Hi"})
    assert status >= 400 and body["code"] == 21610
    _s, detail = await gw.call("GET", f"/api/v1/messages/{scheduled['id']}")
    assert detail["status"] == "canceled"
    gw.rig.sim.net.send_from_handset(ANN, "modem0", "STOP")  # again, on the other SIM
    _s, contact = await gw.call("GET", f"/api/v1/contacts/{ANN}/consent")
    await eventually(lambda: len(gw.rig.sim.net.handsets[ANN].sent) == 2, within=5,
                     what="the second STOP sent")
    await gw.call("GET", "/api/v1/conversations")
    await eventually(_threads(gw, 2), within=10, what="both SIMs threaded")
    assert gw.handset_texts(ANN) == texts  # still exactly one confirmation
    assert [h["action"] for h in contact["history"]] == ["opt_out"]


def _threads(gw: MessagingE2E, count: int):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        _s, body = await gw.call("GET", f"/api/v1/conversations?number={ANN}")
        return len(body["conversations"]) >= count

    return probe


def zone_where_it_is(first_hour: int, last_hour: int) -> str:
    """A fixed-offset zone whose local hour is now within [first_hour, last_hour]."""
    now = datetime.now(UTC)
    return next(f"Etc/GMT{'+' if o < 0 else '-'}{abs(o)}" if o else "Etc/GMT"
                for o in range(-12, 15)
                if first_hour <= (now + timedelta(hours=o)).hour <= last_hour)


async def test_quiet_hours_reschedule_to_the_next_allowed_time(gw: MessagingE2E) -> None:
    now = datetime.now(UTC)
    zone = zone_where_it_is(1, 5)
    status, _c = await gw.call("PUT", f"/api/v1/contacts/{ANN}", json={
        "time_zone": zone, "consent": {"marketing": "granted"}, "fields": {"first_name": "Ann"}})
    assert status == 200
    status, body = await gw.call("POST", "/api/v1/templates/promo/send", json={"to": ANN})
    assert status == 202, body
    assert body["status"] == "scheduled"
    local = datetime.fromisoformat(body["send_at"]).astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) == (8, 0)
    assert body["text"].endswith("Reply STOP to opt out")
    assert datetime.fromisoformat(body["send_at"]) - now < timedelta(hours=8)


async def test_csv_campaign_reports_rows_and_delivers_the_rest(gw: MessagingE2E) -> None:
    numbers = [f"+49151123401{i:02d}" for i in range(6)]
    daytime = zone_where_it_is(10, 16)  # marketing: outside quiet hours wherever CI runs
    for n in numbers:
        consent = {"marketing": "granted"} if n != numbers[5] else {}
        await gw.call("PUT", f"/api/v1/contacts/{n}", json={"consent": consent,
                                                             "time_zone": daytime})
    await gw.call("PUT", f"/api/v1/contacts/{numbers[4]}", json={"opted_out": True})
    csv = "number,first_name\n" + "\n".join([
        f"{numbers[0]},Ann", f"{numbers[1]},Bob", f"{numbers[2]},", "12,Carl",
        f"{numbers[3]},Dora", f"{numbers[4]},Emil", f"{numbers[5]},Finn"]) + "\n"
    status, body = await gw.call("POST", "/api/v1/campaigns?template=promo&name=April&rate=20",
                                 data=csv.encode(), headers={"Content-Type": "text/csv"})
    assert status == 201, body
    problems = {(p["row"], p["problem"]) for p in body["problems"]}
    assert problems == {(3, "missing_field"), (4, "invalid_number"), (6, "opted_out"),
                        (7, "no_consent")}
    campaign = body["campaign"]
    assert campaign["accepted"] == 3

    async def done() -> dict | None:  # type: ignore[type-arg]
        _s, progress = await gw.call("GET", f"/api/v1/campaigns/{campaign['id']}")
        return progress if progress["progress"]["delivered"] == 3 else None

    progress = await eventually(done, within=20, what="3 campaign messages delivered")
    assert progress["progress"]["refused"] == 4
    for n, name in zip(numbers[:4], ["Ann", "Bob", None, "Dora"], strict=True):
        expected = [] if name is None else \
            [f"Hi {name}, new offers for you!\nReply STOP to opt out"]
        assert gw.handset_texts(n) == expected
    _s, report = await gw.call("GET", "/api/v1/reports/delivery?by=campaign")
    row = next(r for r in report["rows"] if r["key"] == campaign["id"])
    assert row["delivered"] == 3 and row["delivery_rate"] == 1.0
    _s, text = await gw.call("GET", "/api/v1/reports/delivery?by=template&format=csv")
    assert text.splitlines()[0].startswith("template,messages")


async def test_yes_for_a_callback_and_the_survey_raise_their_events(gw: MessagingE2E) -> None:
    net = gw.rig.sim.net
    net.autoreplies.append(AutoReply("*", "would you like a callback", "YES", 0.1))
    net.autoreplies.append(AutoReply("*", "How did we do", "4", 0.1))
    status, body = await gw.call("POST", "/api/v1/events", json={
        "type": "call.abandoned", "to": ANN, "fields": {"name": "Ann"}})
    assert status == 202, body
    assert body["message"]["text"].startswith("Hi Ann, we noticed")

    async def event(kind: str) -> list | None:  # type: ignore[type-arg]
        _s, found = await gw.call("GET", f"/api/v1/messaging/events?type={kind}")
        return found["events"] or None

    (callback,) = await eventually(lambda: event("callback.requested"), within=20,
                                   what="the callback request")
    assert callback["number"] == ANN and callback["data"]["template"] == "callback_offer"
    await eventually(lambda: "Thanks, we will call you back shortly." in gw.handset_texts(ANN)
                     or None, within=15, what="the rule's reply")
    status, sent = await gw.call("POST", "/api/v1/templates/survey/send", json={"to": ANN})
    assert status == 202
    (answer,) = await eventually(lambda: event("survey.answered"), within=20,
                                 what="the survey answer")
    assert answer["data"]["score"] == 4 and answer["message_id"] == sent["id"]
    _s, report = await gw.call("GET", "/api/v1/reports/delivery?by=template")
    row = next(r for r in report["rows"] if r["key"] == "survey")
    assert row["survey_answers"] == 1 and row["survey_mean"] == 4.0


async def test_otp_verifies_once_and_fails_after_the_attempt_limit(gw: MessagingE2E) -> None:
    status, body = await gw.call("POST", "/api/v1/otp", json={"to": ANN})
    assert status == 202, body
    texts = await eventually(lambda: gw.handset_texts(ANN) or None, within=15,
                             what="the code")
    code = texts[0].split("code is ")[1][:6]
    wrong = "000000" if code != "000000" else "111111"
    verify = "/api/v1/otp/verify"
    _s, first = await gw.call("POST", verify, json={"id": body["id"], "code": wrong})
    assert (first["valid"], first["attempts_left"]) == (False, 2)
    _s, ok = await gw.call("POST", verify, json={"id": body["id"], "code": code})
    assert ok["valid"] is True
    _s, again = await gw.call("POST", verify, json={"id": body["id"], "code": code})
    assert again["valid"] is False
    status, second = await gw.call("POST", "/api/v1/otp", json={"to": ANN})
    assert status == 202
    texts = await eventually(lambda: gw.handset_texts(ANN) if len(gw.handset_texts(ANN)) == 2
                             else None, within=15, what="the second code")
    right = texts[1].split("code is ")[1][:6]
    bad = "000000" if right != "000000" else "111111"
    for left in (2, 1, 0):
        _s, answer = await gw.call("POST", verify, json={"id": second["id"], "code": bad})
        assert (answer["valid"], answer["attempts_left"]) == (False, left)
    _s, late = await gw.call("POST", verify, json={"id": second["id"], "code": right})
    assert late["valid"] is False and late["state"] == "locked"
    _s, detail = await gw.call("GET", f"/api/v1/messages/{body['message_id']}")
    assert code not in detail["text"]

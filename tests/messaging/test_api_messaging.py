"""The messaging HTTP API: contacts and CSV, templates and previews, rules, bindings,
conversations, problems, and the reports page behind the status page's session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.messaging.config import MessagingConfig, TemplateConfig
from tests.messaging.e2erig import MessagingE2E, eventually

pytestmark = pytest.mark.timeout(60)

ANN = "+4915112340001"


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[MessagingE2E]:
    rig = MessagingE2E(tmp_path)
    try:
        yield await rig.start(MessagingConfig(brand="Acme", price_per_segment=0.07, templates=[
            TemplateConfig(
                name="appointment",
                text="Hi {first_name}, your appointment is on {date:%d %b} at {time}. "
                     "Card {card|last4}.")]), modems=1)
    finally:
        await rig.close()


async def test_contacts_consent_and_csv(gw: MessagingE2E) -> None:
    status, contact = await gw.call("PUT", "/api/v1/contacts/+49 151 12340001", json={
        "fields": {"first_name": "Ann"}, "consent": {"marketing": "granted"},
        "time_zone": "Europe/Berlin"})
    assert status == 200, contact
    assert contact["number"] == ANN and contact["consent"]["marketing"] == "granted"
    status, _bad = await gw.call("PUT", f"/api/v1/contacts/{ANN}", json={"time_zone": "Mars/Base"})
    assert status == 422
    csv = "number,marketing,first_name\n+4915112340002,yes,Bob\nnope,yes,X\n"
    status, report = await gw.call("POST", "/api/v1/contacts/import", data=csv.encode(),
                                   headers={"Content-Type": "text/csv"})
    assert status == 200 and report["imported"] == 1 and report["problems"][0]["row"] == 2
    status, text = await gw.call("GET", "/api/v1/contacts/export")
    assert status == 200 and "+4915112340002,granted" in text
    _s, history = await gw.call("GET", "/api/v1/contacts/+4915112340002/consent")
    assert history["history"][0]["source"] == "import"
    _s, listing = await gw.call("GET", "/api/v1/contacts?limit=1")
    assert len(listing["contacts"]) == 1 and listing["next"] == ANN


async def test_template_preview_and_missing_fields(gw: MessagingE2E) -> None:
    body = {"fields": {"first_name": "Ann", "date": "2025-04-03", "time": "10:30",
                       "card": "4111 1111 1111 1234"}}
    status, shown = await gw.call("POST", "/api/v1/templates/appointment/preview", json=body)
    assert status == 200, shown
    assert shown["text"] == ("Hi Ann, your appointment is on 03 Apr at 10:30. "
                             "Card ending in 1234.")
    assert (shown["encoding"], shown["segments"], shown["cost"]) == ("gsm7", 1, 0.07)
    status, problem = await gw.call("POST", "/api/v1/templates/appointment/preview",
                                    json={"fields": {"first_name": "Ann"}})
    assert status == 422 and problem["type"] == "urn:smsgw:problem:template-error"
    assert problem["field"] == "date"
    status, problem = await gw.call("PUT", "/api/v1/templates/evil",
                                    json={"text": "{x.__class__}"})
    assert status == 422
    status, saved = await gw.call("PUT", "/api/v1/templates/promo", json={
        "text": "Hi {first_name}, 20% off this week", "category": "marketing"})
    assert status == 200 and saved["fields"] == ["first_name"]
    status, shown = await gw.call("POST", "/api/v1/templates/promo/preview",
                                  json={"fields": {"first_name": "Ann"}})
    assert shown["opt_out_added"] and shown["text"].endswith("Reply STOP to opt out")
    status, refused = await gw.call("POST", "/api/v1/templates/promo/send",
                                    json={"to": ANN, "fields": {"first_name": "Ann"}})
    assert status == 422 and refused["type"] == "urn:smsgw:problem:no-consent"


async def test_rules_bindings_and_the_agent_inbox(gw: MessagingE2E) -> None:
    status, rule = await gw.call("POST", "/api/v1/rules", json={
        "name": "agent", "match": {"keyword": ["AGENT", "HUMAN"]},
        "actions": {"handoff": True, "reply": "Connecting you to an agent."}})
    assert status == 201, rule
    status, _bad = await gw.call("POST", "/api/v1/rules", json={"name": "x", "match": {}})
    assert status == 422
    status, binding = await gw.call("PUT", "/api/v1/event-bindings/order.shipped",
                                    json={"template": "appointment"})
    assert status == 200 and binding["priority"] == "high"
    status, _missing = await gw.call("POST", "/api/v1/events", json={
        "type": "order.lost", "to": ANN, "fields": {}})
    assert status == 404
    gw.rig.sim.net.send_from_handset(ANN, "modem0", "Human!")

    async def flagged() -> list | None:  # type: ignore[type-arg]
        _s, found = await gw.call("GET", "/api/v1/conversations?needs_agent=true")
        return found["conversations"] or None

    (thread,) = await eventually(flagged, within=10, what="the flagged conversation")
    await eventually(lambda: gw.handset_texts(ANN) or None, within=10, what="the rule's reply")
    status, replied = await gw.call("POST", f"/api/v1/conversations/{thread['id']}/reply",
                                    json={"text": "Hi, Sam here."})
    assert status == 202, replied
    await eventually(lambda: "Hi, Sam here." in gw.handset_texts(ANN) or None, within=10,
                     what="the agent's reply")
    _s, full = await gw.call("GET", f"/api/v1/conversations/{thread['id']}")
    assert [m["direction"] for m in full["messages"]] == ["in", "out", "out"]
    status, closed = await gw.call("POST", f"/api/v1/conversations/{thread['id']}/close")
    assert status == 200 and closed["conversation"]["status"] == "closed"


async def test_reports_page_uses_the_status_page_session(gw: MessagingE2E) -> None:
    assert gw.session is not None
    async with gw.session.get(gw.url + "/reports", headers={"Authorization": ""}) as page:
        assert page.status == 200
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        assert "<script src=\"/reports.js\"" in await page.text()
    async with gw.session.get(gw.url + "/reports.js") as script:
        assert script.status == 200 and script.content_type == "text/javascript"
    status, _b = await gw.call("GET", "/ui/api/messaging/report", headers={"Authorization": ""})
    assert status == 401
    status, login = await gw.call("POST", "/ui/login", json={"key": gw.key})
    assert status == 200, login
    status, report = await gw.call("GET", "/ui/api/messaging/report?by=sim")
    assert status == 200 and report["group_by"] == "sim"
    status, _b = await gw.call("POST", "/ui/api/messaging/conversations/x/close", json={})
    assert status == 403  # no CSRF token

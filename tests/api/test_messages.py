"""The JSON API through a real HTTP client against a running gateway with simulated modems."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.store.models import MessageQuery
from tests.api.apirig import ApiRig, eventually, numbers

PROBLEM = "urn:smsgw:problem:"


async def test_send_is_delivered_with_parts_history_and_number_lookup(api: ApiRig) -> None:
    (to,) = numbers(1)
    accepted = await api.send(to, "Your code is 123456", priority="otp",
                              metadata={"order": 42})
    assert accepted["status"] == "queued"
    assert accepted["to"] == to and accepted["segments"] == 1 and accepted["encoding"] == "gsm7"
    assert accepted["number"]["can_receive_sms"] is True
    assert accepted["number"]["region"] == "DE"
    assert accepted["priority"] == "otp" and accepted["metadata"] == {"order": 42}

    final = await api.wait_status(accepted["id"], {"delivered"})
    assert final["parts"][0]["status"] == "delivered"
    assert final["parts"][0]["modem_id"] in {"modem0", "modem1"}
    assert isinstance(final["parts"][0]["mr"], int)
    steps = [h["to_status"] for h in final["history"]]
    assert steps == ["queued", "sending", "sent", "delivered"]
    assert final["uncertain"] is False and final["error"] is None
    assert api.rig.received_texts(to) == ["Your code is 123456"]


async def test_long_unicode_message_reports_segments(api: ApiRig) -> None:
    (to,) = numbers(1, 2000)
    accepted = await api.send(to, "Grüße ✓ " * 20)
    assert (accepted["encoding"], accepted["segments"]) == ("ucs2", 3)
    final = await api.wait_status(accepted["id"], {"delivered"})
    assert len(final["parts"]) == 3


async def test_batch_answers_each_item_in_order_and_accepted_ones_are_durable(
    api: ApiRig,
) -> None:
    good = numbers(3, 3000)
    batch = {"messages": [
        {"to": good[0], "text": "one"},
        {"to": "+4930123456", "text": "landline"},  # Berlin fixed line: cannot receive SMS
        {"to": good[1], "text": "two", "priority": "bulk"},
        {"to": good[2], "text": 7},  # wrong type: refused on its own
        {"to": good[2], "text": "x" * 2000},  # more segments than allowed
    ]}
    status, body, _ = await api.call("POST", "/api/v1/messages/batch", json=batch)
    assert status == 202, body
    assert (body["accepted"], body["refused"]) == (2, 3)
    lines = body["messages"]
    assert [line["index"] for line in lines] == [0, 1, 2, 3, 4]
    assert [line["accepted"] for line in lines] == [True, False, True, False, False]
    assert lines[1]["error"]["type"] == PROBLEM + "invalid-number"
    assert lines[1]["error"]["field"] == "messages[1].to"
    assert lines[3]["error"]["type"] == PROBLEM + "validation-error"
    assert lines[3]["error"]["field"] == "messages[3].text"
    assert lines[4]["error"]["type"] == PROBLEM + "too-long"
    for line in (lines[0], lines[2]):  # committed before the answer: readable at once
        found = await api.rig.gw.store.get_message(line["message"]["id"])
        assert found is not None
    await api.wait_status(lines[2]["message"]["id"], {"delivered"})


async def test_bad_inputs_are_problems_with_a_type_and_field(api: ApiRig) -> None:
    (to,) = numbers(1, 4000)
    cases = [
        (b"{not json", {"Content-Type": "application/json"}, 400, "invalid-json", None),
        (b'{"to": "' + to.encode() + b'", "text": 5}', {"Content-Type": "application/json"},
         422, "validation-error", "text"),
        (b'{"to": "' + to.encode() + b'", "text": "hi", "colour": "red"}',
         {"Content-Type": "application/json"}, 422, "validation-error", "colour"),
        (b'{"text": "hi"}', {"Content-Type": "application/json"}, 422, "validation-error",
         "to"),
        (b'{"to": "+4930123456", "text": "hi"}', {"Content-Type": "application/json"}, 422,
         "invalid-number", "to"),
        (b'{"to": "12", "text": "hi"}', {"Content-Type": "application/json"}, 422,
         "invalid-number", "to"),
        (b'{"to": "' + to.encode() + b'", "text": "' + b"y" * 1700 + b'"}',
         {"Content-Type": "application/json"}, 422, "too-long", "text"),
        (b'{"to": "' + to.encode() + b'", "text": "hi", "send_at": "2030-01-01T10:00:00"}',
         {"Content-Type": "application/json"}, 422, "validation-error", "send_at"),
        (b'{"to": "' + to.encode() + b'", "text": "hi", "status_callback": '
         b'"http://169.254.169.254/latest"}', {"Content-Type": "application/json"}, 422,
         "target-refused", "status_callback"),
        (b"to=x&text=y", {"Content-Type": "application/x-www-form-urlencoded"}, 415,
         "unsupported-media-type", None),
        (b'{"to": "' + to.encode() + b'", "text": "' + b"z" * 70_000 + b'"}',
         {"Content-Type": "application/json"}, 413, "body-too-large", None),
    ]
    for raw, headers, want_status, slug, field in cases:
        status, body, got = await api.call("POST", "/api/v1/messages", data=raw,
                                           headers=headers)
        assert status == want_status, (raw[:60], body)
        assert got["Content-Type"].startswith("application/problem+json")
        assert body["type"] == PROBLEM + slug, body
        assert body["status"] == want_status and body["detail"]
        if field is not None:
            assert body["field"] == field, body
    status, body, _ = await api.call("GET", "/api/v1/messages/01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert (status, body["type"]) == (404, PROBLEM + "not-found")
    status, body, _ = await api.call("GET", "/api/v1/nothing-here")
    assert (status, body["type"]) == (404, PROBLEM + "not-found")
    status, body, got = await api.call("PUT", "/api/v1/messages")
    assert (status, body["type"]) == (405, PROBLEM + "method-not-allowed")
    assert "POST" in got["Allow"]
    status, body, _ = await api.call("GET", "/api/v1/messages?limit=0&colour=red")
    assert status == 422 and {e["field"] for e in body["errors"]} == {"limit", "colour"}
    # nothing refused was stored
    page = await api.rig.gw.store.list_messages(MessageQuery())
    assert page.messages == ()


async def test_idempotency_key_replays_the_answer_and_refuses_another_body(api: ApiRig) -> None:
    (to,) = numbers(1, 5000)
    body = {"to": to, "text": "pay 10 EUR"}
    first = await api.call("POST", "/api/v1/messages", json=body,
                           headers={"Idempotency-Key": "order-77"})
    again = await api.call("POST", "/api/v1/messages", json=body,
                           headers={"Idempotency-Key": "order-77"})
    assert first[0] == again[0] == 202
    assert again[1] == first[1]
    assert again[2].get("Idempotent-Replayed") == "true"
    other = await api.call("POST", "/api/v1/messages", json={"to": to, "text": "pay 99 EUR"},
                           headers={"Idempotency-Key": "order-77"})
    assert other[0] == 422 and other[1]["type"] == PROBLEM + "idempotency-conflict"
    # keys are per API key: another key may use the same string
    mine = await api.call("POST", "/api/v1/messages", json=body, key="sender",
                          headers={"Idempotency-Key": "order-77"})
    assert mine[0] == 202 and mine[1]["id"] != first[1]["id"]
    bad = await api.call("POST", "/api/v1/messages", json=body,
                         headers={"Idempotency-Key": "x" * 300})
    assert bad[0] == 400 and bad[1]["type"] == PROBLEM + "invalid-idempotency-key"
    await api.wait_status(first[1]["id"], {"delivered"})
    assert api.rig.received_texts(to).count("pay 10 EUR") == 2  # once per key, not per call

    batch = {"messages": [{"to": to, "text": "a"}, {"to": to, "text": "b"}]}
    b1 = await api.call("POST", "/api/v1/messages/batch", json=batch,
                        headers={"Idempotency-Key": "batch-1"})
    b2 = await api.call("POST", "/api/v1/messages/batch", json=batch,
                        headers={"Idempotency-Key": "batch-1"})
    assert b1[0] == b2[0] == 202 and b1[1] == b2[1]
    b3 = await api.call("POST", "/api/v1/messages/batch", json={"messages": batch["messages"][:1]},
                        headers={"Idempotency-Key": "batch-1"})
    assert b3[0] == 422


async def test_cancel_while_scheduled_but_not_once_sent(api: ApiRig) -> None:
    to, other = numbers(2, 6000)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    scheduled = await api.send(to, "tomorrow", send_at=later)
    assert scheduled["status"] == "scheduled"
    status, body, _ = await api.call("DELETE", f"/api/v1/messages/{scheduled['id']}")
    assert (status, body["status"]) == (200, "canceled")
    status, body, _ = await api.call("GET", f"/api/v1/messages/{scheduled['id']}")
    assert [h["to_status"] for h in body["history"]] == ["scheduled", "canceled"]

    sent = await api.send(other, "now")
    await api.wait_status(sent["id"], {"delivered"})
    status, body, _ = await api.call("DELETE", f"/api/v1/messages/{sent['id']}")
    assert (status, body["type"]) == (409, PROBLEM + "not-cancelable")
    status, body, _ = await api.call("DELETE", "/api/v1/messages/01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert status == 404
    assert api.rig.received_texts(to) == []


async def test_list_filters_and_cursor_pagination(api: ApiRig) -> None:
    a, b = numbers(2, 7000)
    ids = [(await api.send(a, f"m{i}"))["id"] for i in range(5)]
    other = (await api.send(b, "other"))["id"]
    status, page1, _ = await api.call("GET", f"/api/v1/messages?to={a.replace('+', '%2B')}"
                                             "&limit=2")
    assert status == 200 and [m["id"] for m in page1["messages"]] == ids[::-1][:2]
    seen = [m["id"] for m in page1["messages"]]
    cursor = page1["next_cursor"]
    while cursor:
        status, page, _ = await api.call(
            "GET", f"/api/v1/messages?to={a.replace('+', '%2B')}&limit=2&cursor={cursor}")
        seen += [m["id"] for m in page["messages"]]
        cursor = page["next_cursor"]
    assert seen == ids[::-1] and other not in seen
    await api.wait_status(other, {"delivered"})
    status, page, _ = await api.call("GET", "/api/v1/messages?status=delivered&limit=100")
    assert other in [m["id"] for m in page["messages"]]
    since = (datetime.now(UTC) + timedelta(minutes=5)).isoformat().replace("+", "%2B")
    status, page, _ = await api.call("GET", f"/api/v1/messages?since={since}")
    assert status == 200 and page["messages"] == []


async def test_inbound_reply_is_listed_and_readable(api: ApiRig) -> None:
    await api.handset_sends("+4917612345678", "modem1", "Yes please, Thursday")

    async def listed() -> list[dict[str, object]] | None:
        status, body, _ = await api.call("GET", "/api/v1/inbound?from=%2B4917612345678",
                                         key="reader")
        assert status == 200
        return body["messages"] or None

    (message,) = await eventually(listed, what="inbound message listed")
    assert message["text"] == "Yes please, Thursday" and message["modem_id"] == "modem1"
    status, body, _ = await api.call("GET", f"/api/v1/inbound/{message['id']}", key="reader")
    assert status == 200 and body == message
    status, body, _ = await api.call("GET", "/api/v1/inbound/nope", key="reader")
    assert status == 404


async def test_modems_numbers_and_operations(api: ApiRig) -> None:
    status, body, _ = await api.call("GET", "/api/v1/modems", key="reader")
    assert status == 200
    modems = {m["id"]: m for m in body["modems"]}
    assert set(modems) == {"modem0", "modem1"}
    one = modems["modem0"]
    assert one["state"] == "ready" and one["identity"]["imei"]
    assert isinstance(one["signal_dbm"], int) and one["operator"]
    status, body, _ = await api.call("GET", "/api/v1/modems/modem1", key="reader")
    assert status == 200 and body["id"] == "modem1"
    status, body, _ = await api.call("GET", "/api/v1/modems/nope", key="reader")
    assert status == 404

    status, body, _ = await api.call("GET", "/api/v1/numbers/+4930123456", key="reader")
    assert status == 200 and body["can_receive_sms"] is False
    assert body["number_type"] == "fixed_line"
    status, body, _ = await api.call("GET", "/api/v1/numbers/%2B4915112345678", key="reader")
    assert body["can_receive_sms"] is True and body["e164"] == "+4915112345678"

    status, body, _ = await api.call("GET", "/readyz", key="reader")
    assert status == 200 and body["ready"] is True and body["modems_ready"] == 2
    status, body, _ = await api.call("GET", "/healthz", key=None)
    assert status == 200

    (to,) = numbers(1, 8000)
    await api.wait_status((await api.send(to, "metrics"))["id"], {"delivered"})
    status, text, headers = await api.call("GET", "/metrics", key="reader")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert 'smsgw_messages{status="delivered"} 1.0' in text
    assert 'smsgw_queue_depth{lane="normal"} 0.0' in text
    assert 'smsgw_modem_state{modem="modem0",state="ready"} 1.0' in text
    assert "smsgw_modem_signal_dbm{" in text
    assert 'smsgw_api_submit_seconds_count{route="api"} 1.0' in text

    status, spec, _ = await api.call("GET", "/openapi.json", key="reader")
    assert status == 200 and spec["openapi"].startswith("3.1")
    assert "/api/v1/messages" in spec["paths"]
    status, html, headers = await api.call("GET", "/docs", key="reader")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "sendMessage" in html and "urn:smsgw:problem:opted-out" in html
    assert "<script" not in html and "<link" not in html  # self-contained: no CDN

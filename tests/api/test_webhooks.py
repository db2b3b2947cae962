"""Webhooks and status callbacks: received by a local server, signatures checked the way a
receiver following the Standard Webhooks spec checks them (computed here independently)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.store import SqliteStore
from gateway.store.api_models import OutboxEntry, WebhookEndpoint
from gateway.store.sqlite_api import ApiStore
from gateway.webhooks.dispatcher import WebhookDispatcher, WebhookOptions
from gateway.webhooks.signing import new_secret
from tests.api.apirig import ApiRig, Captured, Receiver, eventually, numbers

PROBLEM = "urn:smsgw:problem:"


def standard_signature_ok(secret: str, request: Captured) -> bool:
    """The receiver's side of Standard Webhooks, written from the spec."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id = request.headers["webhook-id"]
    stamp = request.headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > 300:
        return False
    signed = f"{msg_id}.{stamp}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(part == f"v1,{expected}" for part in request.headers["webhook-signature"].split())


async def test_status_callback_on_each_change_after_the_first_signed_with_the_key(
    api: ApiRig, receiver: Receiver
) -> None:
    (to,) = numbers(1, 100)
    message = await api.send(to, "callback me", key="sender",
                             status_callback=receiver.url("/status"), metadata={"ref": "A1"})
    await api.wait_status(message["id"], {"delivered"})
    calls = await eventually(lambda: receiver.at("/status") if len(receiver.at("/status")) >= 3
                             else None, what="three status callbacks")
    bodies = [json.loads(c.body) for c in calls]
    assert [b["data"]["status"] for b in bodies] == ["sending", "sent", "delivered"]
    assert all(b["type"] == "message.status" and b["data"]["id"] == message["id"]
               for b in bodies)
    assert bodies[0]["data"]["previous_status"] == "queued"
    assert bodies[2]["data"]["metadata"] == {"ref": "A1"}
    secret = "whsec_" + base64.b64encode(api.keys["sender"].encode()).decode()
    assert all(standard_signature_ok(secret, c) for c in calls)
    assert not standard_signature_ok(secret, Captured(
        calls[0].method, calls[0].url, calls[0].path, calls[0].headers, calls[0].body + b" ",
        []))
    assert len({c.headers["webhook-id"] for c in calls}) == 3


async def test_endpoint_gets_status_and_inbound_events_and_its_secret_once(
    api: ApiRig, receiver: Receiver
) -> None:
    status, created, headers = await api.call("POST", "/api/v1/webhooks", json={
        "url": receiver.url("/hook"), "events": ["message.status", "message.inbound"],
        "description": "crm",
    })
    assert status == 201, created
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    status, listed, _ = await api.call("GET", "/api/v1/webhooks")
    assert [w["id"] for w in listed["webhooks"]] == [created["id"]]
    assert "secret" not in listed["webhooks"][0]
    status, one, _ = await api.call("GET", headers["Location"])
    assert status == 200 and "secret" not in one

    (to,) = numbers(1, 200)
    message = await api.send(to, "hello")
    await api.wait_status(message["id"], {"delivered"})
    await api.handset_sends("+4917611112222", "modem0", "thanks, got it")

    def inbound_seen() -> list[Captured] | None:
        found = [c for c in receiver.at("/hook") if b"message.inbound" in c.body]
        return found or None

    (reply,) = await eventually(inbound_seen, what="inbound webhook")
    data = json.loads(reply.body)["data"]
    assert (data["from"], data["text"], data["modem_id"]) == (
        "+4917611112222", "thanks, got it", "modem0")
    (modem0,) = [s for s in api.rig.gw.pool.statuses() if s.modem_id == "modem0"]
    assert modem0.identity is not None
    assert data["to"] == modem0.identity.msisdn
    statuses = [json.loads(c.body)["data"]["status"] for c in receiver.at("/hook")
                if b"message.status" in c.body]
    await eventually(lambda: len([c for c in receiver.at("/hook")
                                  if b"message.status" in c.body]) >= 3,
                     what="status events")
    assert all(standard_signature_ok(secret, c) for c in receiver.at("/hook"))
    assert set(statuses) <= {"sending", "sent", "delivered"}

    status, deliveries, _ = await api.call("GET", f"/api/v1/webhooks/{created['id']}/deliveries")
    assert status == 200 and all(d["state"] == "delivered" for d in deliveries["deliveries"])
    status, _, _ = await api.call("DELETE", f"/api/v1/webhooks/{created['id']}")
    assert status == 204
    status, _, _ = await api.call("GET", f"/api/v1/webhooks/{created['id']}")
    assert status == 404


async def test_link_local_and_metadata_targets_are_refused(api: ApiRig) -> None:
    for url in ("http://169.254.169.254/latest/meta-data", "http://metadata.google.internal/x",
                "http://[fe80::1]/hook", "http://[::ffff:169.254.169.254]/", "ftp://example/x",
                "http://0.0.0.0:8080/"):
        status, body, _ = await api.call("POST", "/api/v1/webhooks",
                                         json={"url": url, "events": ["message.status"]})
        assert (status, body["type"]) == (422, PROBLEM + "target-refused"), url
    status, body, _ = await api.call("POST", "/api/v1/webhooks",
                                     json={"url": "http://x/", "events": ["sms.sent"]})
    assert status == 422 and body["field"].startswith("events")


async def test_410_disables_the_endpoint(api: ApiRig, receiver: Receiver) -> None:
    receiver.statuses = [410]
    status, created, _ = await api.call("POST", "/api/v1/webhooks", json={
        "url": receiver.url("/gone"), "events": ["message.status"]})
    assert status == 201
    (to,) = numbers(1, 300)
    await api.send(to, "x")

    async def disabled() -> dict[str, object] | None:
        _, body, _ = await api.call("GET", f"/api/v1/webhooks/{created['id']}")
        return body if body["enabled"] is False else None

    body = await eventually(disabled, what="endpoint disabled")
    assert "410" in str(body["disabled_reason"])
    assert len(receiver.at("/gone")) == 1


async def test_modem_health_event(api: ApiRig, receiver: Receiver) -> None:
    status, created, _ = await api.call("POST", "/api/v1/webhooks", json={
        "url": receiver.url("/health"), "events": ["modem.health"]})
    assert status == 201
    api.rig.sim.inject("modem1", {"kind": "network_lost", "duration": 1.0})

    def degraded() -> list[dict[str, object]] | None:
        events = [json.loads(c.body)["data"] for c in receiver.at("/health")]
        return [e for e in events if e["id"] == "modem1" and e["state"] != "ready"] or None

    (event, *_rest) = await eventually(degraded, what="modem.health event")
    assert event["previous_state"] == "ready" and event["reason"]
    assert all(standard_signature_ok(created["secret"], c) for c in receiver.at("/health"))


async def test_outbox_retries_with_backoff_across_a_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.statuses = [503, 200]
    db = tmp_path / "smsgw.db"
    options = WebhookOptions(schedule=(1.0, 1.0), jitter=0.0, poll_interval=0.1)
    endpoint = WebhookEndpoint("wh_test", receiver.url("/retry"), ("message.status",),
                               "standard", new_secret(), "admin", None, True, None,
                               datetime.now(UTC))
    entry = OutboxEntry("evt_1|wh_test", "evt_1", "message.status", "wh_test",
                        endpoint.url, "standard", '{"type":"message.status"}')

    store = await SqliteStore.open(db)
    api = ApiStore(store)
    await api.add_endpoint(endpoint)
    await api.add_entries([entry], datetime.now(UTC))
    first = WebhookDispatcher(api, options, keyring=None, modems=list)
    await first.start()
    try:
        async def attempted() -> bool:
            (row,) = await api.list_deliveries("wh_test")
            return row.attempts == 1
        await eventually(attempted, what="first attempt recorded")
    finally:
        await first.close()
        await store.close()
    assert len(receiver.at("/retry")) == 1

    store = await SqliteStore.open(db)  # "restart": the retry is owed by the outbox alone
    api = ApiStore(store)
    second = WebhookDispatcher(api, options, keyring=None, modems=list)
    await second.start()
    try:
        async def delivered() -> bool:
            (row,) = await api.list_deliveries("wh_test")
            return row.state == "delivered"
        await eventually(delivered, what="delivered after restart")
        (row,) = await api.list_deliveries("wh_test")
        assert row.attempts == 2 and row.last_status == 200
    finally:
        await second.close()
        await store.close()
    first_try, retry = receiver.at("/retry")
    assert first_try.headers["webhook-id"] == retry.headers["webhook-id"] == "evt_1"
    assert int(retry.headers["webhook-timestamp"]) >= int(first_try.headers["webhook-timestamp"])


async def test_outbox_gives_up_after_the_schedule(tmp_path: Path, receiver: Receiver) -> None:
    receiver.statuses = [500]
    store = await SqliteStore.open(tmp_path / "smsgw.db")
    api = ApiStore(store)
    endpoint = WebhookEndpoint("wh_x", receiver.url("/fail"), ("message.status",), "standard",
                               new_secret(), "admin", None, True, None, datetime.now(UTC))
    await api.add_endpoint(endpoint)
    await api.add_entries([OutboxEntry("e|wh_x", "e", "message.status", "wh_x", endpoint.url,
                                       "standard", "{}")], datetime.now(UTC))
    dispatcher = WebhookDispatcher(
        api, WebhookOptions(schedule=(0.1, 0.1), jitter=0.0, poll_interval=0.05),
        keyring=None, modems=list,
    )
    await dispatcher.start()
    try:
        async def failed() -> bool:
            (row,) = await api.list_deliveries("wh_x")
            return row.state == "failed"
        await eventually(failed, what="delivery given up")
        (row,) = await api.list_deliveries("wh_x")
        assert row.attempts == 3 and "gave up" in (row.last_error or "")
    finally:
        await dispatcher.close()
        await store.close()
    assert len(receiver.at("/fail")) == 3

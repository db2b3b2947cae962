"""The status page's HTTP side without a browser: login, cookie, CSRF and origin checks, the
health API for the CLI, and `modem.health` alert webhooks from a live gateway."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from yarl import URL

from gateway.store.sqlite_api import revoke_key
from tests.web.webrig import Receiver, StatusRig, eventually, numbers


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[StatusRig]:
    rig = StatusRig(tmp_path)
    try:
        await rig.start(2, webhooks={"allow_private_targets": True, "timeout_s": 3.0})
        yield rig
    finally:
        await rig.close()


@pytest.fixture
async def browserless() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def fetch(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
                ) -> tuple[int, Any, Any]:
    async with http.request(method, url, **kwargs) as response:
        raw = await response.read()
        body: Any = raw.decode(errors="replace")
        if "json" in response.content_type:
            body = json.loads(raw)
        return response.status, body, response.headers


async def test_nothing_without_an_admin_session(two: StatusRig,
                                                browserless: aiohttp.ClientSession) -> None:
    url, http = two.url, browserless
    status, page, headers = await fetch(http, "GET", url + "/")
    assert status == 200 and "<title>smsgw status</title>" in page
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "modem0" not in page
    for path in ("/ui/api/overview", "/ui/api/session", "/ui/api/inbound/01ARZ3NDEKTSV4RRFFQ69G5"):
        status, body, _ = await fetch(http, "GET", url + path)
        assert status == 401 and body["type"] == "urn:smsgw:problem:unauthorized", path
    status, script, headers = await fetch(http, "GET", url + "/app.js")
    assert status == 200 and "textContent" in script
    assert headers["Content-Type"].startswith("text/javascript")

    login = url + "/ui/login"
    form = await fetch(http, "POST", login, data={"key": two.keys["admin"]})
    assert form[0] == 415  # a cross-site form cannot log anyone in
    evil = await fetch(http, "POST", login, json={"key": two.keys["admin"]},
                       headers={"Origin": "https://evil.example"})
    assert evil[0] == 403
    assert (await fetch(http, "POST", login, json={"key": two.keys["reader"]}))[0] == 403
    assert (await fetch(http, "POST", login, json={"key": "smsgw_live_" + "x" * 43}))[0] == 401
    assert not http.cookie_jar.filter_cookies(URL(url))

    status, body, headers = await fetch(http, "POST", login, json={"key": two.keys["admin"]})
    assert status == 200 and body["key"] == "admin"
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    csrf = body["csrf"]
    status, overview, headers = await fetch(http, "GET", url + "/ui/api/overview")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert {m["id"] for m in overview["modems"]} == {"modem0", "modem1"}

    action = url + "/ui/api/modems/modem0/balance"
    assert (await fetch(http, "POST", action, json={}))[0] == 403  # no CSRF token
    assert (await fetch(http, "POST", action, json={}, headers={"X-CSRF-Token": "guess"}))[0] \
        == 403
    crossed = await fetch(http, "POST", action, json={},
                          headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    assert crossed[0] == 403
    status, balance, _ = await fetch(http, "POST", action, json={},
                                     headers={"X-CSRF-Token": csrf})
    assert status == 200 and balance["code"] == "*100#"
    missing = await fetch(http, "POST", url + "/ui/api/modems/nope/balance", json={},
                          headers={"X-CSRF-Token": csrf})
    assert missing[0] == 404

    # revoking the key ends the session (the key is looked up again every few seconds)
    conn = sqlite3.connect(two.db)
    try:
        assert revoke_key(conn, "admin", int(datetime.now(UTC).timestamp() * 1000)) is not None
        conn.commit()
    finally:
        conn.close()

    async def logged_out() -> bool:
        return (await fetch(http, "GET", url + "/ui/api/overview"))[0] == 401

    await eventually(logged_out, within=10.0, every=0.5, what="session ended by revocation")


async def test_status_events_and_history_for_the_cli(two: StatusRig) -> None:
    status, body, _ = await two.call("GET", "/api/v1/status", key="reader")
    assert status == 200 and body["gateway"]["can_send"] is True
    assert [m["operator"] for m in body["modems"]] == ["SimTel", "SimFone"]
    assert set(body["queue"]) == {"otp", "high", "normal", "bulk"}
    assert (await two.call("GET", "/api/v1/status", key="sender"))[0] == 403
    assert (await two.call("GET", "/api/v1/status", key=None))[0] == 401

    _, start, _ = await two.call("GET", "/api/v1/events?after=-1", key="reader")
    assert start["events"] == []
    sent = await two.send(numbers(1, start=7700)[0], "events please")

    async def delivered() -> list[dict[str, Any]] | None:
        _, page, _ = await two.call("GET", f"/api/v1/events?after={start['next']}", key="reader")
        mine = [e for e in page["events"] if e["type"] == "message.status"
                and e["data"]["id"] == sent["id"]]
        return mine if any(e["data"]["status"] == "delivered" for e in mine) else None

    events = await eventually(delivered, within=15.0, what="message events")
    assert [e["data"]["status"] for e in events] == ["queued", "sending", "sent", "delivered"]
    bad = await two.call("GET", "/api/v1/events?after=x", key="reader")
    assert bad[0] == 422

    async def history() -> list[dict[str, Any]] | None:
        _, found, _ = await two.call("GET", "/api/v1/health/modems/modem0/history?hours=1",
                                     key="reader")
        return found["samples"] or None

    samples = await eventually(history, what="health history")
    assert samples[-1]["state"] == "ready" and samples[-1]["operator"] == "SimTel"
    assert (await two.call("GET", "/api/v1/health/modems/modem0/history?hours=0"))[0] == 422
    assert (await two.call("POST", "/api/v1/health/modems/modem0/balance", key="reader"))[0] \
        == 403


async def test_alerts_reach_subscribed_webhooks_and_recover(two: StatusRig,
                                                            receiver: Receiver) -> None:
    status, created, _ = await two.call("POST", "/api/v1/webhooks", json={
        "url": receiver.url("/health"), "events": ["modem.health"]})
    assert status == 201, created
    async with aiohttp.ClientSession() as http, http.patch(
        f"{two.sim_control}/modems/modem1", json={"rssi": 1}
    ) as r:
        assert r.status == 200

    def alerts() -> list[dict[str, Any]]:
        out = []
        for request in receiver.at("/health"):
            data = json.loads(request.body)["data"]
            if data.get("alert"):
                assert request.headers["webhook-signature"].startswith("v1,")
                out.append(data)
        return out

    raised = await eventually(lambda: alerts() or None, within=15.0, what="alert webhook")
    assert (raised[0]["id"], raised[0]["alert"], raised[0]["status"]) == (
        "modem1", "weak_signal", "raised")
    async with aiohttp.ClientSession() as http, http.patch(
        f"{two.sim_control}/modems/modem1", json={"rssi": 20}
    ) as r:
        assert r.status == 200
    # only a truthy result comes back: the list, never the False of `and`
    recovered = cast(list[dict[str, Any]],
                     await eventually(lambda: len(alerts()) >= 2 and alerts(), within=15.0,
                                      what="recovery webhook"))
    assert [(a["alert"], a["status"]) for a in recovered] == [
        ("weak_signal", "raised"), ("weak_signal", "recovered")]

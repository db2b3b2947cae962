"""Modem actions end to end: `POST /api/v1/modems/{id}/pause|resume|reset` through the real
HTTP server, against simulated modems on ptys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.apirig import ApiRig, eventually, numbers


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiRig]:
    async with ApiRig.running(tmp_path, 2) as r:
        yield r


async def _act(api: ApiRig, modem: str, action: str) -> dict[str, Any]:
    status, body, _ = await api.call("POST", f"/api/v1/modems/{modem}/{action}")
    assert status == 202, body
    assert body["id"] == modem and body["action"] == action
    return dict(body)


async def _modem(api: ApiRig, modem: str) -> dict[str, Any]:
    status, body, _ = await api.call("GET", f"/api/v1/modems/{modem}", key="reader")
    assert status == 200, body
    return dict(body)


async def _send_all(api: ApiRig, count: int, start: int, text: str) -> list[dict[str, Any]]:
    ids = [(await api.send(to, f"{text} {i}"))["id"]
           for i, to in enumerate(numbers(count, start))]
    return [await api.wait_status(i, {"delivered"}) for i in ids]


async def test_a_paused_modem_takes_no_jobs_until_resumed(api: ApiRig) -> None:
    assert (await _act(api, "modem0", "pause"))["accepted"] is True
    assert (await _modem(api, "modem0"))["paused"] is True
    assert (await _modem(api, "modem1"))["paused"] is False

    sent = await _send_all(api, 6, 7100, "while modem0 is paused")
    assert {m["modem_id"] for m in sent} == {"modem1"}

    # paused is not deaf: a text to modem0 is still received and stored
    await api.handset_sends("+4915199990001", "modem0", "hello paused modem")

    async def inbound() -> list[dict[str, Any]] | None:
        status, body, _ = await api.call("GET", "/api/v1/inbound?modem=modem0", key="reader")
        assert status == 200, body
        found = [m for m in body["messages"] if m["text"] == "hello paused modem"]
        return found or None

    (received,) = await eventually(inbound, what="the inbound text on the paused modem")
    assert received["modem_id"] == "modem0"
    modem0 = await _modem(api, "modem0")
    assert modem0["state"] == "ready"
    assert any(h["reason"] == "paused by operator" for h in modem0["history"])

    # resume modem0 and pause modem1: now modem0 must carry everything
    assert (await _act(api, "modem0", "resume"))["accepted"] is True
    assert (await _act(api, "modem1", "pause"))["accepted"] is True
    assert (await _modem(api, "modem0"))["paused"] is False
    sent = await _send_all(api, 4, 7200, "after the resume")
    assert {m["modem_id"] for m in sent} == {"modem0"}
    assert api.rig.gw.pool.is_paused("modem1") and not api.rig.gw.pool.is_paused("modem0")


async def test_reset_reboots_the_modem_and_it_returns_to_ready(api: ApiRig) -> None:
    sim_modem = api.rig.sim.modem("modem0")
    reboots = sim_modem.counters.reboots
    body = await _act(api, "modem0", "reset")
    assert body["accepted"] is True

    await eventually(lambda: sim_modem.counters.reboots > reboots, what="the sim to reboot")

    async def ready_again() -> dict[str, Any] | None:
        modem = await _modem(api, "modem0")
        resets = [h for h in modem["history"]
                  if h["reason"] and h["reason"].startswith("resetting (AT+CFUN=1,1)")]
        return modem if resets and modem["state"] == "ready" else None

    modem = await eventually(ready_again, within=15.0, what="modem0 ready after the reset")
    assert modem["counters"]["resets"] == 1
    reasons = [h["reason"] or "" for h in modem["history"]]
    assert "resetting (AT+CFUN=1,1): reset requested by operator" in reasons
    # and it sends again (modem1 paused so the job can only go through modem0)
    await _act(api, "modem1", "pause")
    (sent,) = await _send_all(api, 1, 7300, "after the reset")
    assert sent["modem_id"] == "modem0"


async def test_actions_on_an_unknown_modem_or_action_are_404(api: ApiRig) -> None:
    status, body, _ = await api.call("POST", "/api/v1/modems/nope/pause")
    assert status == 404, body
    status, body, _ = await api.call("POST", "/api/v1/modems/modem0/explode")
    assert status == 404, body
    status, body, _ = await api.call("POST", "/api/v1/modems/modem0/pause", key="reader")
    assert status == 403, body
    assert (await _modem(api, "modem0"))["paused"] is False

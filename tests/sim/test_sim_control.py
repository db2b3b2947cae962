"""The JSON control API and web page over real HTTP, and the smsgw-sim CLI as a process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from drivers.pdu import encode_submit
from sim.pool import SimPool
from tests.sim.simclient import FAST, SerialClient

HANDSET = "+4915112345678"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[SimPool, aiohttp.ClientSession]]:
    async with SimPool(2, tmp_path / "dev", control="127.0.0.1:0", profile="mixed",
                       **FAST) as pool, aiohttp.ClientSession(base_url=pool.control_url) as http:
        yield pool, http


async def call(http: aiohttp.ClientSession, method: str, path: str,
               body: Any = None, status: int = 200) -> Any:
    async with http.request(method, path, json=body) as r:
        data = await r.json()
        assert r.status == status, data
        return data


async def test_modems_list(api: tuple[SimPool, aiohttp.ClientSession]) -> None:
    pool, http = api
    modems = await call(http, "GET", "/modems")
    assert [m["id"] for m in modems] == ["modem0", "modem1"]
    first = modems[0]
    for key in ("id", "path", "profile", "imei", "imsi", "iccid", "msisdn", "operator", "state",
                "counters"):
        assert key in first
    assert first["path"] == pool.paths[0] and Path(first["path"]).is_symlink()
    assert first["state"] == "ready" and first["profile"] == "generic"
    assert modems[1]["profile"] == "sim800"
    assert {"submitted", "received", "status_reports"} <= set(first["counters"])
    assert (await call(http, "GET", "/modems/1"))["id"] == "modem1"
    assert (await call(http, "GET", "/modems/nope", status=404))["error"]


async def test_send_from_modem_shows_in_handset_inbox(
    api: tuple[SimPool, aiohttp.ClientSession], open_client: Any
) -> None:
    pool, http = api
    c: SerialClient = open_client(pool.paths[0])
    await c.command("ATE0")
    text = "Your code is 123456 " * 9  # two parts
    for part in encode_submit(HANDSET, text):
        await c.command(f"AT+CMGS={part.tpdu_length}", until=b"> ")
        await c.command(part.hex.encode() + b"\x1a")
    (msg,) = await call(http, "GET", f"/handsets/{HANDSET}/messages")
    assert msg["text"] == text and msg["parts"] == 2 and msg["from"] == pool.modem(0).sim.msisdn
    assert msg["received_at"]
    encoded = await call(http, "GET", "/handsets/%2B4915112345678/messages")
    assert encoded == [msg]
    assert (await call(http, "GET", "/modems/modem0"))["counters"]["submitted"] == 2
    handsets = await call(http, "GET", "/handsets")
    assert handsets == [{"number": HANDSET, "operator": "SimTel", "behaviour": "deliverable",
                         "received": 1, "sent": 0}]


async def test_inbound_to_msisdn_or_modem_id(api: tuple[SimPool, aiohttp.ClientSession]) -> None:
    pool, http = api
    result = await call(http, "POST", "/inbound",
                        {"from": HANDSET, "to": pool.modem(1).sim.msisdn, "text": "hi"}, 202)
    assert result["modem"] == "modem1" and result["parts"] == 1
    result = await call(http, "POST", "/inbound",
                        {"from": HANDSET, "to": "modem0", "text": "é" * 100, "encoding": "ucs2",
                         "order": [2, 1]}, 202)
    assert result["parts"] == 2 and result["sent_parts"] == [2, 1]
    assert pool.modem(0).stores["SM"].used == 2
    storage = await call(http, "GET", "/modems/modem0/storage")
    assert [s["kind"] for s in storage] == ["deliver", "deliver"]
    for bad, why in [
        ({"from": HANDSET, "to": "modem9", "text": "x"}, "no simulated SIM"),
        ({"to": "modem0", "text": "x"}, "from"),
        ({"from": HANDSET, "to": "modem0", "text": "x", "encoding": "ebcdic"}, "encoding"),
        ({"from": HANDSET, "to": "modem0", "text": "x", "order": [3]}, "order"),
    ]:
        assert why in (await call(http, "POST", "/inbound", bad, 400))["error"]
    async with http.post("/inbound", data=b"{not json") as r:
        assert r.status == 400


async def test_faults_api(api: tuple[SimPool, aiohttp.ClientSession]) -> None:
    pool, http = api
    out = await call(http, "POST", "/modems/modem0/faults", {"kind": "hang"}, 201)
    assert out["state"] == "hung"
    out = await call(http, "POST", "/modems/modem0/faults",
                     {"kind": "cms_error", "code": 42, "count": 3}, 201)
    assert {"kind": "cms_error", "code": 42, "count": 3, "remaining": 3} in out["faults"]
    out = await call(http, "DELETE", "/modems/modem0/faults/hang")
    assert [f["kind"] for f in out["faults"]] == ["cms_error"]
    out = await call(http, "DELETE", "/modems/modem0/faults")
    assert out["faults"] == [] and out["state"] == "ready"
    for bad, why in [
        ({"kind": "meltdown"}, "unknown fault kind"),
        ({"kind": "cms_error"}, "needs a 'code'"),
        ({"kind": "hang", "duration": "long"}, "duration"),
        ({"kind": "hang", "colour": 1}, "unknown fault fields"),
    ]:
        assert why in (await call(http, "POST", "/modems/modem0/faults", bad, 400))["error"]
    assert not pool.modem(0).faults.by_kind


@pytest.mark.parametrize("route", ["/modems/modem0/faults", "/modems/modem0/faults/unplug"])
async def test_clearing_an_unplug_replugs_at_once(
    api: tuple[SimPool, aiohttp.ClientSession], route: str
) -> None:
    """Clearing used to cancel the replug timer and leave the modem gone for good."""
    pool, http = api
    path = pool.paths[0]
    out = await call(http, "POST", "/modems/modem0/faults", {"kind": "unplug", "seconds": 600}, 201)
    assert out["state"] == "unplugged" and not os.path.exists(path)
    out = await call(http, "DELETE", route)
    assert out["faults"] == [] and out["state"] != "unplugged"
    assert os.path.exists(path) and not pool.modem(0).unplugged
    client = SerialClient(path)
    try:
        await answers_at(client)  # booted again (input sent while it boots is lost: retry)
    finally:
        client.close()


async def test_behaviours_autoreplies_reset(api: tuple[SimPool, aiohttp.ClientSession]) -> None:
    pool, http = api
    await call(http, "PUT", f"/handsets/{HANDSET}/behaviour", {"behaviour": "absent",
                                                               "delay": 5}, 201)
    assert pool.net.behaviour_of(HANDSET).behaviour.value == "absent"
    await call(http, "POST", "/behaviours", {"pattern": "+49176*", "behaviour": "barred"}, 201)
    rules = await call(http, "GET", "/behaviours")
    assert rules[-1] == {"pattern": "+49176*", "behaviour": "barred", "delay": None}
    assert "behaviour is one of" in (await call(http, "POST", "/behaviours",
                                                {"pattern": "*", "behaviour": "x"}, 400))["error"]
    await call(http, "POST", "/autoreplies",
               {"handset": "*", "match": "^YES$", "reply": "Thanks!", "delay": 0}, 201)
    assert (await call(http, "GET", "/autoreplies"))[0]["reply"] == "Thanks!"
    assert "regular expression" in (await call(http, "POST", "/autoreplies",
                                               {"match": "(", "reply": "x"}, 400))["error"]
    net = await call(http, "PATCH", "/network", {"latency": "1-3", "report_delay": 2})
    assert net["latency"] == "1-3" and net["report_delay"] == 2.0
    assert "latency" in (await call(http, "PATCH", "/network", {"latency": "soon"}, 400))["error"]
    await call(http, "PATCH", "/modems/modem0", {"balance": "1.50", "daily_cap": 10, "rssi": 9})
    info = await call(http, "GET", "/modems/modem0")
    assert (info["balance"], info["daily_cap"], info["rssi"]) == ("1.50", 10, 9)
    pool.net.send_from_handset(HANDSET, "modem0", "x")
    await call(http, "POST", "/reset")
    assert await call(http, "GET", "/handsets") == []
    assert await call(http, "GET", "/autoreplies") == []
    assert pool.modem(0).stores["SM"].used == 0
    assert (await call(http, "GET", "/modems/modem0"))["counters"]["received"] == 0
    events = await call(http, "GET", "/events")
    assert isinstance(events, list)


async def test_web_page_is_self_contained(api: tuple[SimPool, aiohttp.ClientSession]) -> None:
    _pool, http = api
    pages = {}
    for path in ("/", "/app.js", "/app.css"):
        async with http.get(path) as r:
            assert r.status == 200
            pages[path] = await r.text()
    assert '<script src="app.js">' in pages["/"]
    for text in pages.values():
        assert not re.search(r"https?://", text)  # no CDN, no external anything
    assert "innerHTML" not in pages["/app.js"]  # SMS text is never rendered as HTML


async def run_cli(*args: str, control: str = "") -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sim.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SMSGW_SIM_CONTROL": control},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_cli_run_and_client_commands(tmp_path: Path, unused_tcp_port: int) -> None:
    control = f"127.0.0.1:{unused_tcp_port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sim.cli", "run", "--modems", "2", "--dir", str(tmp_path / "d"),
        "--control", control, "--profile", "mixed", "--seed", "3", "--report-delay", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    try:
        lines: list[str] = []
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
            assert line, "smsgw-sim run exited early:\n" + "".join(lines)
            lines.append(line)
            if line.strip() == "ready":
                break
        assert lines[0].startswith(f"modem0  {tmp_path / 'd' / 'modem0'}  generic")
        assert (tmp_path / "d" / "modem1").is_symlink()

        code, out = await run_cli("modems", "--json", control=control)
        assert code == 0, out
        modems = json.loads(out)
        assert [m["profile"] for m in modems] == ["generic", "sim800"]
        code, out = await run_cli("inject", HANDSET, "modem1", "x" * 200, "--order", "2,1",
                                  control=control)
        assert (code, out.strip()) == (0, f"sent 2 part(s) to modem1 ({modems[1]['msisdn']})")
        code, out = await run_cli("fault", "modem0", "cms_error", "--code", "42", "--count", "2",
                                  control=control)
        assert (code, out.strip()) == (0, "modem0: cms_error injected, state ready")
        code, out = await run_cli("fault", "modem0", "--clear", control=control)
        assert code == 0 and "faults cleared" in out
        code, out = await run_cli("inbox", HANDSET, control=control)
        assert (code, out.strip()) == (0, "(no messages)")
        code, out = await run_cli("fault", "modem0", "cms_error", control=control)
        assert code != 0 and "needs a 'code'" in out
        code, out = await run_cli("gammurc", "--dir", str(tmp_path / "d"))
        assert code == 0 and f"[gammu1]\ndevice = {tmp_path / 'd' / 'modem1'}" in out
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 0
    assert not (tmp_path / "d" / "modem0").exists()  # ptys and links cleaned up


async def test_raw_pdu_reaches_the_sim_untouched(
    api: tuple[SimPool, aiohttp.ClientSession],
) -> None:
    pool, http = api
    bad = "0791947101670000040D91945111325476F80000621132202180000BFFFF"  # UDL runs past data
    out = await call(http, "POST", "/inbound", {"to": "modem0", "pdu": bad}, 202)
    assert out["modem"] == "modem0"
    (stored,) = pool.modem(0).stores["SM"].messages.values()
    assert stored.pdu == bad
    storage = await call(http, "GET", "/modems/modem0/storage")
    assert "error" in storage[0]
    assert "hex" in (await call(http, "POST", "/inbound", {"to": "modem0", "pdu": "zz"},
                                400))["error"]


async def test_pin_required_fault_clears_through_the_api(
    api: tuple[SimPool, aiohttp.ClientSession],
) -> None:
    pool, http = api
    out = await call(http, "POST", "/modems/modem0/faults", {"kind": "pin_required"}, 201)
    assert [f["kind"] for f in out["faults"]] == ["pin_required"]
    await asyncio.sleep(0.1)  # boot to the PIN question
    assert (await call(http, "GET", "/modems/modem0"))["state"] == "pin_required"
    out = await call(http, "DELETE", "/modems/modem0/faults")
    assert out["faults"] == [] and out["state"] == "ready"
    assert pool.modem(0).sim.pin is None


async def answers_at(client: SerialClient, tries: int = 20) -> None:
    for _ in range(tries):
        try:
            await client.command("AT", timeout=0.5)
            return
        except AssertionError:
            continue
    raise AssertionError("the replugged modem never answered AT")

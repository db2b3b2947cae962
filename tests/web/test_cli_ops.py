"""`smsgw status|modems|send|inbox|tail` as separate processes against a running gateway."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp
import pytest

from drivers.redact import mask_number
from gateway.cli_ops import describe, safe, spark, table
from tests.web.webrig import StatusRig, numbers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[StatusRig]:
    async with StatusRig.running(tmp_path, 2) as rig:
        yield rig


def environment(key: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGW_")}
    if key is not None:
        env["SMSGW_API_KEY"] = key
    return env


async def smsgw(gw: StatusRig, *args: str, key: str | None = "reader",
                extra: Sequence[str] = ()) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", *args, "--url", gw.url, *extra,
        cwd=ROOT, env=environment(gw.keys[key] if key else None),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_status_and_modems(gw: StatusRig) -> None:
    code, out, err = await smsgw(gw, "status")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("gateway: running, can send (2 ready)")
    assert lines[1].startswith("queue: otp 0, high 0, normal 0, bulk 0")
    header = next(line for line in lines if line.startswith("MODEM"))
    assert header.split() == ["MODEM", "STATE", "OPERATOR", "NETWORK", "SIGNAL", "RECENT",
                              "SENT/CAP", "QUEUE", "LAST", "ERROR"]
    rows = {line.split()[0]: line for line in lines if line.startswith("modem")}
    assert set(rows) == {"modem0", "modem1"}
    assert "SimTel" in rows["modem0"] and "ready" in rows["modem0"] and "dBm" in rows["modem0"]

    code, out, err = await smsgw(gw, "modems")
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(rows) == {"modem0", "modem1"}
    assert "35000" in rows["modem1"] and "SimFone" in rows["modem1"] and "home" in rows["modem1"]

    code, out, _ = await smsgw(gw, "status", "--json")
    assert code == 0 and '"modems"' in out


async def test_send_and_wait_inbox_and_tail(gw: StatusRig, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(gw.keys["admin"] + "\n")
    to = numbers(1, start=5150)[0]
    tail = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "tail", "--url", gw.url, "--count", "5",
        "--only", "message",
        cwd=ROOT, env=environment(gw.keys["reader"]), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(1.5)  # let the follower take its starting point
    code, out, err = await smsgw(gw, "send", "--to", to, "--text", "hello from the CLI",
                                 "--wait", key=None, extra=["--key-file", str(key_file)])
    assert code == 0, err
    first, *rest = out.splitlines()
    assert " queued to " in first and "1 part(s), gsm7" in first
    assert rest[-1].endswith(" delivered")

    sender = "+4917612340000"
    async with aiohttp.ClientSession() as http, http.post(
        f"{gw.sim_control}/inbound",
        json={"from": sender, "to": "modem1", "text": "hi\x1b[31m red\nsecond line"},
    ) as r:
        assert r.status == 202
    async with asyncio.timeout(30):
        followed, tail_err = await tail.communicate()
    assert tail.returncode == 0, tail_err.decode()
    lines = followed.decode().splitlines()
    assert len(lines) == 5
    assert [line.split()[1] for line in lines[:4]] == ["message.status"] * 4
    assert "queued -> sending on modem" in lines[1] and "sent -> delivered" in lines[3]
    assert lines[4].split()[1] == "message.inbound"
    assert "\x1b" not in lines[4] and "\\x1b[31m red\\nsecond line" in lines[4]
    assert sender not in lines[4] and f"from {mask_number(sender)} on modem1" in lines[4]

    code, out, err = await smsgw(gw, "inbox")
    assert code == 0, err
    (row,) = [line for line in out.splitlines() if "modem1" in line]
    assert mask_number(sender) in row and sender not in row and "\\x1b[31m red\\nsecond line" in row
    code, out, _ = await smsgw(gw, "inbox", "--reveal")
    assert sender in out


async def test_errors_say_what_to_do(gw: StatusRig) -> None:
    code, _, err = await smsgw(gw, "status", key=None)
    assert code == 2 and "SMSGW_API_KEY" in err
    code, _, err = await smsgw(gw, "send", "--to", "+4915100000001", "--text", "x")
    assert code == 1 and "HTTP 403" in err and "send" in err  # a read key cannot send
    code, _, err = await smsgw(gw, "send", "--to", "12", "--text", "x", key="sender")
    assert code == 1 and "HTTP 422" in err
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "status", "--url", "http://127.0.0.1:9",
        cwd=ROOT, env=environment("smsgw_live_x"), stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    _, err_bytes = await process.communicate()
    assert process.returncode == 3 and b"cannot reach the gateway" in err_bytes


def test_output_helpers() -> None:
    assert safe("a\x1b[2Jb\r\n") == "a\\x1b[2Jb\\r\\n"
    assert safe("x" * 10, 5) == "xxxx…"
    assert table(["a", "bb"], [["1", None], ["333", "4"]]).splitlines() == [
        "A    BB", "1", "333  4"]
    assert spark([None, -113, -82, -51]) == " ▁▄█"
    line = describe({"type": "modem.alert", "at": "2025-03-10T12:00:01.000+00:00",
                     "data": {"modem_id": "m1", "kind": "weak_signal", "status": "raised",
                              "detail": "signal -109 dBm"}}, reveal=False)
    assert line == "12:00:01 modem.alert     m1 weak_signal raised: signal -109 dBm"

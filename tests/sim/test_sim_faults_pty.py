"""Every fault kind, observed byte by byte through a real pty opened with pyserial."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import serial

from drivers.pdu import Deliver, decode_pdu, encode_submit
from sim.faults import FaultKind, FaultSpec
from sim.pool import SimPool
from tests.sim.simclient import FAST, SerialClient

HANDSET = "+4915112345678"


async def submit(c: SerialClient, text: str = "hello", to: str = HANDSET,
                 srr: bool = False) -> None:
    part = encode_submit(to, text, request_status_report=srr)[0]
    await c.command(f"AT+CMGS={part.tpdu_length}", until=b"> ")
    c.write(part.hex.encode() + b"\x1a")


async def test_hang_silences_the_modem_until_cleared(pool: SimPool, client: SerialClient) -> None:
    pool.inject(0, {"kind": "hang"})
    client.write(b"AT\r")
    assert await client.silence(0.3) == b""
    assert pool.modem(0).state.value == "hung"
    pool.modem(0).clear_fault(FaultKind.HANG)
    # input sent while hung was lost: only the new command is answered
    assert await client.final("AT") == b"\r\nOK\r\n"


async def test_hang_with_a_duration_ends_by_itself(pool: SimPool, client: SerialClient) -> None:
    pool.inject(0, {"kind": "hang", "duration": 0.2})
    client.write(b"AT\r")
    assert await client.silence(0.1) == b""
    await asyncio.sleep(0.2)
    assert await client.final("AT") == b"\r\nOK\r\n"


async def test_hang_rdy_loop_prints_rdy_again_and_again(pool: SimPool,
                                                        client: SerialClient) -> None:
    pool.inject(0, {"kind": "hang", "mode": "rdy_loop"})
    await client.expect(b"\r\nRDY\r\n")
    await client.expect(b"\r\nRDY\r\n")
    client.write(b"AT\r")
    got = await client.silence(0.05)
    assert b"OK" not in got


async def test_unplug_removes_the_path_and_it_returns_under_the_same_name(
    tmp_path: Path, open_client: Callable[[str], SerialClient]
) -> None:
    pool = await SimPool(1, tmp_path / "d", **{**FAST, "boot_time": 0.5}).start()
    client = open_client(pool.paths[0])
    try:
        await unplug_and_back(pool, client, open_client)
    finally:
        await pool.close()


async def unplug_and_back(pool: SimPool, client: SerialClient,
                          open_client: Callable[[str], SerialClient]) -> None:
    path = Path(pool.paths[0])
    before = os.readlink(path)
    pool.inject(0, {"kind": "unplug", "seconds": 0.3})
    assert not path.exists()
    with pytest.raises(OSError):
        await client.expect(b"never", timeout=1.0)
    with pytest.raises(serial.SerialException):
        serial.Serial(str(path), timeout=0)
    for _ in range(400):
        if path.exists():
            break
        await asyncio.sleep(0.005)
    assert path.is_symlink() and path.exists()
    assert os.readlink(path) != before  # a new device node behind the same stable name
    again = open_client(str(path))
    await again.expect(b"\r\nRDY\r\n")  # it boots like a freshly plugged modem
    assert await again.command("AT") == b"AT\r\r\nOK\r\n"  # echo is on again after boot


async def test_reboot_prints_banners_turns_echo_on_and_forgets_settings(
    tmp_path: Path, open_client: Callable[[str], SerialClient]
) -> None:
    async with SimPool(1, tmp_path / "d", profile="sim800", **FAST) as pool:
        c = open_client(pool.paths[0])
        await c.command("ATE0")
        await c.command("AT+CMGF=1")
        assert b"+CMGF: 1" in await c.final("AT+CMGF?")
        pool.inject(0, {"kind": "reboot"})
        banner = await c.expect(b"SMS Ready\r\n")
        assert re.search(rb"RDY\r\n.*\+CFUN: 1\r\n.*\+CPIN: READY\r\n.*Call Ready\r\n", banner,
                         re.S)
        assert await c.command("AT+CMGF?") == b"AT+CMGF?\r\r\n+CMGF: 0\r\n\r\nOK\r\n"


async def test_input_during_boot_is_lost_and_sms_waits_for_sms_ready(
    tmp_path: Path, open_client: Callable[[str], SerialClient]
) -> None:
    async with SimPool(1, tmp_path / "d", profile="sim800", **{**FAST, "boot_time": 0.4}) \
            as pool:
        c = open_client(pool.paths[0])
        pool.inject(0, {"kind": "reboot"})
        c.write(b"AT\r")  # before RDY: nobody listens
        await c.expect(b"RDY\r\n")
        assert b"OK" not in c.drain()
        await c.command("AT+CMEE=1", until=b"OK\r\n")
        reply = await c.final("AT+CPMS?")
        assert reply.endswith(b"+CMS ERROR: 314\r\n")  # SIM busy until SMS Ready
        await c.expect(b"SMS Ready\r\n")
        assert b"+CPMS:" in await c.final("AT+CPMS?")


async def test_garbage_burst_then_clean_answers(pool: SimPool, client: SerialClient) -> None:
    pool.inject(0, {"kind": "garbage", "size": 40})
    await asyncio.sleep(0.05)
    noise = client.drain()
    assert len(noise) == 40
    assert not noise.isascii() or re.search(rb"[\x00-\x08\x0e-\x1f]", noise)
    assert await client.final("AT") == b"\r\nOK\r\n"


async def test_garbage_for_a_while_dirties_responses(pool: SimPool,
                                                     client: SerialClient) -> None:
    pool.inject(0, {"kind": "garbage", "duration": 5, "size": 4})
    dirty = 0
    for _ in range(20):
        reply = await client.command("AT")
        if reply != b"\r\nOK\r\n":
            dirty += 1
            assert reply.endswith(b"\r\nOK\r\n")
    assert dirty > 0


async def test_split_delivers_a_response_in_many_small_reads(pool: SimPool,
                                                             client: SerialClient) -> None:
    plain = await client.final("AT+CGMI;+CGSN")
    pool.inject(0, {"kind": "split", "duration": 5})
    client.drain()
    split = await client.final("AT+CGMI;+CGSN")
    assert split == plain  # the same bytes...
    assert len(client.chunks) >= 4  # ...arriving in pieces
    assert all(len(chunk) <= 16 for chunk in client.chunks)


async def test_urc_inside_response_and_inside_echo(tmp_path: Path,
                                                   open_client: Callable[[str], SerialClient]
                                                   ) -> None:
    async with SimPool(1, tmp_path / "d", profile="e3372", **FAST) as pool:
        c = open_client(pool.paths[0])
        await c.command("AT+CMEE=1")  # echo still on
        pool.inject(0, {"kind": "urc_in_response", "duration": 5})
        seen_in_echo = False
        seen_in_response = False
        for _ in range(10):
            reply = await c.final("AT+CSQ;+CGMI")
            urc = rb"\r\n\^RSSI:\d+\r\n"
            assert re.search(urc, reply)
            clean = re.sub(urc, b"", reply)
            # without the URCs it is exactly the echo and the normal answer
            assert re.fullmatch(rb"AT\+CSQ;\+CGMI\r\r\n\+CSQ: \d+,0\r\nhuawei\r\n\r\nOK\r\n",
                                clean)
            echo_end = reply.find(b"\r\r\n")
            for m in re.finditer(urc, reply):
                if 0 < m.start() < echo_end:
                    seen_in_echo = True
                elif m.start() > echo_end:
                    seen_in_response = True
        assert seen_in_echo and seen_in_response


async def test_urc_in_response_delivers_a_real_cmti_mid_command(pool: SimPool,
                                                                client: SerialClient) -> None:
    await client.command("AT+CNMI=2,1,0,0,0")
    pool.inject(0, {"kind": "urc_in_response", "duration": 5})
    pool.net.send_from_handset(HANDSET, "modem0", "arrives mid-command")
    reply = await client.final("AT+CSQ")
    assert b'+CMTI: "SM",1' in reply


async def test_urc_storm_floods_vendor_urcs(tmp_path: Path,
                                            open_client: Callable[[str], SerialClient]) -> None:
    async with SimPool(1, tmp_path / "d", profile="e3372", **FAST) as pool:
        c = open_client(pool.paths[0])
        pool.inject(0, {"kind": "urc_storm", "duration": 0.3, "rate": 200})
        got = await c.silence(0.4)
        urcs = re.findall(rb"\r\n\^(RSSI|HCSQ|MODE|DSFLOWRPT):", got)
        assert len(urcs) >= 20
        await asyncio.sleep(0.05)
        c.drain()
        assert await c.silence(0.1) == b""  # the storm is over


async def test_slow_submit_answers_only_after_its_time(pool: SimPool,
                                                       client: SerialClient) -> None:
    pool.inject(0, {"kind": "slow_submit", "seconds": 0.4})
    await submit(client)
    assert await client.silence(0.2) == b""
    reply = await client.expect(b"OK\r\n", timeout=2)
    assert re.fullmatch(rb"\r\n\+CMGS: \d+\r\n\r\nOK\r\n", reply)


async def test_cms_error_for_the_next_n_submits(pool: SimPool, client: SerialClient) -> None:
    pool.inject(0, {"kind": "cms_error", "code": 42, "count": 2})
    for _ in range(2):
        await submit(client)
        assert await client.expect(b"\r\n") == b"\r\n"
        assert await client.expect(b"\r\n") == b"+CMS ERROR: 42\r\n"
    await submit(client)
    assert re.fullmatch(rb"\r\n\+CMGS: \d+\r\n\r\nOK\r\n", await client.expect(b"OK\r\n"))
    assert len(pool.net.handsets[HANDSET].received) == 1


async def test_cms_error_renders_per_cmee(pool: SimPool, client: SerialClient) -> None:
    pool.inject(0, {"kind": "cms_error", "code": 331, "count": 3})
    await client.command("AT+CMEE=2")
    assert await client.final("AT+CPMS?") == b"\r\n+CMS ERROR: No network service\r\n"
    await client.command("AT+CMEE=0")
    assert await client.final("AT+CPMS?") == b"\r\nERROR\r\n"


async def test_cme_error_for_the_next_n_commands(pool: SimPool, client: SerialClient) -> None:
    pool.inject(0, {"kind": "cme_error", "code": 14, "count": 2})
    assert await client.final("AT+CPIN?") == b"\r\n+CME ERROR: 14\r\n"
    assert await client.final("AT+CSQ") == b"\r\n+CME ERROR: 14\r\n"
    assert b"+CPIN: READY" in await client.final("AT+CPIN?")


async def test_sim_removed(pool: SimPool, client: SerialClient) -> None:
    pool.inject(0, {"kind": "sim_removed"})
    await client.expect(b"\r\n+CPIN: NOT READY\r\n")
    assert await client.final("AT+CPIN?") == b"\r\n+CME ERROR: 10\r\n"
    assert await client.final("AT+CIMI") == b"\r\n+CME ERROR: 10\r\n"
    assert await client.final("AT+CMGS=20") == b"\r\n+CMS ERROR: 310\r\n"
    assert await client.final("AT+CREG?") == b"\r\n+CREG: 0,0\r\n\r\nOK\r\n"
    pool.modem(0).clear_fault(FaultKind.SIM_REMOVED)  # re-inserted: the modem re-initialises
    await client.expect(b"+CPIN: READY\r\n")
    await asyncio.sleep(0.08)
    client.drain()
    assert b"+CPIN: READY" in await client.command("AT+CPIN?")


async def test_pin_required_then_unlocked(pool: SimPool, client: SerialClient) -> None:
    pool.inject(0, {"kind": "pin_required"})
    await client.expect(b"+CPIN: SIM PIN\r\n")
    await client.command("ATE0")
    await client.command("AT+CMEE=1")
    assert await client.final("AT+CPIN?") == b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
    assert await client.final("AT+CMGL=4") == b"\r\n+CMS ERROR: 311\r\n"
    assert await client.final('AT+CPIN="0000"') == b"\r\n+CME ERROR: 16\r\n"
    assert await client.final('AT+CPIN="1234"') == b"\r\nOK\r\n"
    assert await client.expect(b"+CPIN: READY\r\n") == b"\r\n+CPIN: READY\r\n"
    assert await client.final("AT+CMGL=4") == b"\r\nOK\r\n"


async def test_network_lost_and_regained(pool: SimPool, client: SerialClient) -> None:
    await client.command("AT+CREG=1")
    pool.inject(0, {"kind": "network_lost"})
    assert await client.expect(b"\r\n") + await client.expect(b"\r\n") == b"\r\n+CREG: 2\r\n"
    assert await client.final("AT+CSQ") == b"\r\n+CSQ: 99,99\r\n\r\nOK\r\n"
    assert b'+COPS: 0\r\n' in await client.final("AT+COPS?")
    await submit(client)
    assert await client.expect(b"+CMS ERROR: 331\r\n")
    await client.command("AT+CNMI=2,1,0,0,0")
    pool.net.send_from_handset(HANDSET, "modem0", "waits in the network")
    assert b"+CMTI" not in await client.silence(0.1)
    pool.modem(0).clear_fault(FaultKind.NETWORK_LOST)
    got = await client.expect(b'+CMTI: "SM",1\r\n')
    assert b"\r\n+CREG: 1\r\n" in got


async def test_storage_full_holds_mt_until_space(pool: SimPool, client: SerialClient) -> None:
    await client.command("AT+CNMI=2,1,0,0,0")
    pool.inject(0, {"kind": "storage_full"})
    assert await client.expect(b"\r\n+SMS FULL\r\n")
    assert await client.final("AT+CPMS?") == b'\r\n+CPMS: "SM",30,30,"SM",30,30,"SM",30,30\r\n' \
        b"\r\nOK\r\n"
    pool.net.send_from_handset(HANDSET, "modem0", "after the flood")
    assert b"+CMTI" not in await client.silence(0.1)
    assert await client.final("AT+CMGD=7") == b"\r\nOK\r\n"
    assert await client.expect(b'\r\n+CMTI: "SM",7\r\n')
    reply = await client.final("AT+CMGR=7")
    pdu = decode_pdu(reply.split(b"\r\n")[2].decode())
    assert pdu.user_data.text == "after the flood"  # type: ignore[union-attr]


async def test_lost_submit_answer_sends_but_never_answers(pool: SimPool,
                                                          client: SerialClient) -> None:
    pool.inject(0, {"kind": "lost_submit_answer"})
    await submit(client, "did it go?")
    assert await client.silence(0.3) == b""
    assert [m.text for m in pool.net.handsets[HANDSET].received] == ["did it go?"]
    assert await client.final("AT") == b"\r\nOK\r\n"  # the modem carries on
    await submit(client, "second")
    assert b"+CMGS: 1" in await client.expect(b"OK\r\n")


async def test_incoming_call_rings_with_clip(pool: SimPool, client: SerialClient) -> None:
    await client.command("AT+CLIP=1")
    pool.inject(0, FaultSpec(FaultKind.INCOMING_CALL, number="+4917099887766"))
    assert await client.expect(b'+CLIP: "+4917099887766",145,"",0,"",0\r\n') == \
        b'\r\nRING\r\n\r\n+CLIP: "+4917099887766",145,"",0,"",0\r\n'


async def test_clear_faults_restores_service(pool: SimPool, client: SerialClient) -> None:
    pool.inject(0, {"kind": "split", "duration": 30})
    pool.inject(0, {"kind": "network_lost"})
    pool.modem(0).clear_faults()
    await asyncio.sleep(0.05)
    client.drain()
    assert await client.final("AT+CREG?") == b"\r\n+CREG: 0,1\r\n\r\nOK\r\n"
    assert len(client.chunks) == 1


async def test_ath_stops_the_ringing(pool: SimPool, client: SerialClient) -> None:
    pool.inject(0, {"kind": "incoming_call"})
    await client.expect(b"RING\r\n")
    assert await client.final("ATH") == b"\r\nOK\r\n"
    assert b"RING" not in await client.silence(0.3)


async def test_output_while_nobody_has_the_port_open_is_dropped(
    pool: SimPool, open_client: Callable[[str], SerialClient]
) -> None:
    port = pool.pty_ports[0]

    def connected() -> bool:
        return port.client_connected

    assert not connected()
    pool.inject(0, {"kind": "reboot"})  # banners with nobody listening
    await asyncio.sleep(0.1)
    first = open_client(pool.paths[0])
    assert await first.silence(0.1) == b""  # no stale backlog
    assert await first.command("AT") == b"AT\r\r\nOK\r\n"
    assert connected()
    first.close()
    pool.net.send_from_handset(HANDSET, "modem0", "stored while closed")
    await asyncio.sleep(0.1)
    assert not connected()
    pool.inject(0, {"kind": "garbage"})  # line noise into the void
    second = open_client(pool.paths[0])
    assert await second.silence(0.1) == b""
    # the +CMTI was lost with nobody listening, but the message itself is safe in SIM storage
    listing = await second.command("AT+CMGL=4")
    pdu = listing.split(b"\r\n")[2].decode()
    assert listing.startswith(b"AT+CMGL=4\r\r\n+CMGL: 1,0,,")
    decoded = decode_pdu(pdu)
    assert isinstance(decoded, Deliver) and decoded.user_data.text == "stored while closed"

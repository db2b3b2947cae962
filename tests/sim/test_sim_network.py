"""The simulated network: routing, handset behaviours, reports, accounts, USSD, latency, ids."""

from __future__ import annotations

import asyncio
import random
import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drivers.pdu import StatusReport, decode_pdu, encode_submit, gsm7
from sim.identity import DEFAULT_OPERATORS, luhn_digit, make_imei, make_sim, normalize_number
from sim.latency import Latency, LatencySpecError
from sim.link import open_in_process
from sim.network import AutoReply, Behaviour, BehaviourRule
from sim.pool import SimPool
from tests.sim.simclient import FAST, LinkClient

HANDSET = "+4915112345678"
Connect = Callable[..., Any]


async def submit(c: LinkClient, to: str, text: str = "hi", srr: bool = True) -> bytes:
    part = encode_submit(to, text, request_status_report=srr)[0]
    await c.command(f"AT+CMGS={part.tpdu_length}", until=b"> ")
    return await c.submit_answer(part.hex.encode() + b"\x1a")


async def reports(c: LinkClient, n: int) -> list[StatusReport]:
    out = []
    for _ in range(n):
        await c.expect(b"+CDS: ")
        await c.expect(b"\r\n")
        pdu = decode_pdu((await c.expect(b"\r\n"))[:-2].decode())
        assert isinstance(pdu, StatusReport)
        out.append(pdu)
    return out


def mr_of(reply: bytes) -> int:
    m = re.search(rb"\+CMGS: (\d+)", reply)
    assert m is not None, reply
    return int(m.group(1))


@pytest.fixture
async def c(link_pool: SimPool, link_connect: Connect) -> LinkClient:
    client: LinkClient = await link_connect(link_pool.modem(0))
    await client.command("AT+CNMI=2,1,0,1,0")
    return client


async def test_deliverable_handset_records_and_reports_delivered(link_pool: SimPool,
                                                                c: LinkClient) -> None:
    mr = mr_of(await submit(c, HANDSET, "hello handset"))
    (report,) = await reports(c, 1)
    assert (report.message_reference, report.recipient.number, report.status) == (mr, HANDSET, 0)
    (msg,) = link_pool.net.handsets[HANDSET].received
    assert msg.text == "hello handset" and msg.sender == link_pool.modem(0).sim.msisdn
    assert link_pool.net.handsets[HANDSET].operator == "SimTel"


async def test_national_number_is_routed_to_the_same_handset(link_pool: SimPool,
                                                             c: LinkClient) -> None:
    mr = mr_of(await submit(c, "015112345678", "national"))
    (report,) = await reports(c, 1)
    # the report names the recipient as it was dialled (TOA 0x81), like a real SMSC
    assert report.recipient.number == "015112345678" and report.message_reference == mr
    assert [m.text for m in link_pool.net.handsets[HANDSET].received] == ["national"]


async def test_absent_handset_temporary_then_delivered(link_pool: SimPool,
                                                       c: LinkClient) -> None:
    number = "+4915100000992"
    mr = mr_of(await submit(c, number, "are you there"))
    first, second = await reports(c, 2)
    assert (first.status, first.temporary) == (0x22, True)
    assert (second.status, second.delivered) == (0x00, True)
    assert first.message_reference == second.message_reference == mr
    assert [m.text for m in link_pool.net.handsets[number].received] == ["are you there"]


async def test_unknown_subscriber_permanent_failure(link_pool: SimPool, c: LinkClient) -> None:
    number = "+4915100000991"
    mr = mr_of(await submit(c, number))
    (report,) = await reports(c, 1)
    assert report.message_reference == mr and report.permanent_failure
    assert report.status == 0x43
    assert number not in link_pool.net.handsets or not link_pool.net.handsets[number].received


async def test_rejected_at_submit(link_pool: SimPool, c: LinkClient) -> None:
    assert (await submit(c, "+4915100000993")).endswith(b"+CMS ERROR: 196\r\n")  # barred
    assert (await submit(c, "+4915100000994")).endswith(b"+CMS ERROR: 1\r\n")  # unassigned
    link_pool.net.add_rule(BehaviourRule("+4916*", Behaviour.BARRED))
    assert (await submit(c, "+4916012345678")).endswith(b"+CMS ERROR: 196\r\n")
    assert link_pool.modem(0).counters.submit_errors == 3


async def test_expiring_handset(link_pool: SimPool, c: LinkClient) -> None:
    mr_of(await submit(c, "+4915100000995"))
    first, second = await reports(c, 2)
    assert first.temporary and second.status == 0x46


async def test_daily_cap_blocks_after_n(link_pool: SimPool, c: LinkClient) -> None:
    link_pool.modem(0).sim.daily_cap = 2
    for _ in range(2):
        assert b"+CMGS:" in await submit(c, HANDSET, srr=False)
    assert (await submit(c, HANDSET, srr=False)).endswith(b"+CMS ERROR: 21\r\n")


async def test_prepaid_balance_runs_out(link_pool: SimPool, c: LinkClient) -> None:
    from decimal import Decimal

    sim = link_pool.modem(0).sim
    sim.balance = Decimal("0.20")
    assert b"+CMGS:" in await submit(c, HANDSET, srr=False)
    assert b"+CMGS:" in await submit(c, HANDSET, srr=False)
    assert (await submit(c, HANDSET, srr=False)).endswith(b"+CMS ERROR: 8\r\n")
    assert sim.balance == Decimal("0.02")
    await c.command('AT+CUSD=1,"*100#",15')
    urc = await c.expect(b"\r\n", ) + await c.expect(b"\r\n")
    assert urc == b'\r\n+CUSD: 0,"SimTel: Balance 0.02 EUR.",15\r\n'


async def test_auto_reply_comes_back_to_the_sim(link_pool: SimPool, c: LinkClient) -> None:
    link_pool.net.autoreplies.append(AutoReply("*", r"^\s*stop\s*$", "You are unsubscribed.",
                                               delay=0.0))
    await submit(c, HANDSET, "STOP", srr=False)
    assert await c.expect(b'+CMTI: "SM",1\r\n')
    reply = await c.final("AT+CMGR=1")
    pdu = decode_pdu(reply.split(b"\r\n")[2].decode())
    assert pdu.sender.number == HANDSET  # type: ignore[union-attr]
    assert pdu.user_data.text == "You are unsubscribed."  # type: ignore[union-attr]
    convo = link_pool.net.handsets[HANDSET].conversation()
    assert [(m["direction"], m["text"]) for m in convo] == [
        ("in", "STOP"), ("out", "You are unsubscribed.")]


async def test_handset_reassembles_concatenated_parts(link_pool: SimPool, c: LinkClient) -> None:
    text = "A long promotion text that needs more than one part. " * 4
    for part in encode_submit(HANDSET, text, reference=9):
        await c.command(f"AT+CMGS={part.tpdu_length}", until=b"> ")
        await c.command(part.hex.encode() + b"\x1a")
    (msg,) = link_pool.net.handsets[HANDSET].received
    assert msg.complete and msg.total == 2 and msg.text == text
    assert msg.as_json()["parts"] == 2


async def test_messages_for_an_unreachable_sim_wait_in_the_network(link_pool: SimPool,
                                                                   c: LinkClient) -> None:
    link_pool.inject(0, {"kind": "sim_removed"})
    link_pool.net.send_from_handset(HANDSET, "modem0", "later")
    assert link_pool.net.pending_for(link_pool.modem(0)) == 1
    link_pool.modem(0).clear_faults()
    await c.expect(b"RDY\r\n")
    for _ in range(100):
        if link_pool.modem(0).stores["SM"].used:
            break
        await asyncio.sleep(0.01)
    assert link_pool.net.pending_for(link_pool.modem(0)) == 0


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("generic", b'+CUSD: 0,"Your number is {n}",15'),
        ("sim7600", b'+CUSD: 0,"{ucs2}",72'),
        ("e3372", b'+CUSD: 0,"{packed}",15'),
    ],
)
async def test_ussd_encoding_per_dialect(tmp_path: Path, profile: str, expected: bytes) -> None:
    async with SimPool(1, tmp_path / "x", profile=profile, ptys=False, **FAST) as pool:
        _t, c = open_in_process(pool.modem(0), LinkClient)
        assert isinstance(c, LinkClient)
        await c.command("ATE0")
        number = pool.modem(0).sim.msisdn
        text = f"Your number is {number}"
        request = "*135#"
        if profile == "e3372":  # Huawei wants the request packed too
            request = gsm7.pack_septets(gsm7.encode_septets(request)).hex().upper()
        assert await c.final(f'AT+CUSD=1,"{request}",15') == b"\r\nOK\r\n"
        urc = (await c.expect(b"\r\n") + await c.expect(b"\r\n")).strip()
        want = expected.decode().format(
            n=number,
            ucs2=text.encode("utf-16-be").hex().upper(),
            packed=gsm7.pack_septets(gsm7.encode_septets(text)).hex().upper(),
        ).encode()
        assert urc == want


async def test_ussd_menu_session_and_unsupported(link_pool: SimPool, c: LinkClient) -> None:
    await c.command('AT+CUSD=1,"*111#",15')
    assert b'+CUSD: 1,"1 Balance\n2 My number\n3 Exit",15' in await c.expect(b"Exit\",15\r\n")
    await c.command('AT+CUSD=1,"2",15')
    assert b"Your number is" in await c.expect(b",15\r\n")
    await c.command('AT+CUSD=1,"*999#",15')
    assert await c.expect(b"+CUSD: 4\r\n")


async def test_huawei_vendor_urcs_until_curc_0(tmp_path: Path) -> None:
    async with SimPool(1, tmp_path / "x", profile="e3372", ptys=False,
                       **{**FAST, "vendor_urc_interval": 0.02}) as pool:
        _t, c = open_in_process(pool.modem(0), LinkClient)
        assert isinstance(c, LinkClient)
        assert re.fullmatch(rb"\r\n\^RSSI:\d+\r\n", await c.expect(b"\r\n", ) +
                            await c.expect(b"\r\n"))
        await c.command("AT^CURC=0")
        await asyncio.sleep(0.1)
        c.buffer.clear()
        await asyncio.sleep(0.1)
        assert b"^RSSI" not in c.buffer


async def test_latency_distributions_are_seeded_and_shaped() -> None:
    assert Latency.parse("0").sample(random.Random(1)) == 0.0
    assert Latency.parse(0.5).sample(random.Random(1)) == 0.5
    uniform = Latency.parse("1-3")
    samples = [uniform.sample(random.Random(i)) for i in range(200)]
    assert all(1 <= s <= 3 for s in samples)
    realistic = Latency.parse("realistic")
    a = [realistic.sample(r) for r in [random.Random(7)] for _ in range(2000)]
    b = [realistic.sample(r) for r in [random.Random(7)] for _ in range(2000)]
    assert a == b  # same seed, same run
    assert 1.5 < statistics.median(a) < 3.0
    assert max(a) > 20.0  # the long tail is there
    assert 0.005 < sum(1 for s in a if s > 20) / len(a) < 0.05
    for bad in ("-1", "3-1", "fast", "nan"):
        with pytest.raises(LatencySpecError):
            Latency.parse(bad)


async def test_submit_latency_holds_the_answer(tmp_path: Path, link_connect: Connect) -> None:
    async with SimPool(1, tmp_path / "x", ptys=False, latency="0.2", **FAST) as pool:
        client: LinkClient = await link_connect(pool.modem(0))
        part = encode_submit(HANDSET, "slow network")[0]
        await client.command(f"AT+CMGS={part.tpdu_length}", until=b"> ")
        assert client.transport is not None
        client.transport.write(part.hex.encode() + b"\x1a" + b"AT+CGMI\r")
        await asyncio.sleep(0.1)
        assert client.buffer == b""  # nothing yet, and the next command waits its turn
        assert await client.expect(b"smsgw-sim\r\n\r\nOK\r\n")


def test_identities_are_valid_and_repeatable() -> None:
    sims = [make_sim(i, 5, DEFAULT_OPERATORS) for i in range(6)]
    again = [make_sim(i, 5, DEFAULT_OPERATORS) for i in range(6)]
    assert [s.iccid for s in sims] == [s.iccid for s in again]
    assert len({s.msisdn for s in sims}) == 6
    for sim in sims:
        assert len(sim.iccid) == 20 and luhn_digit(sim.iccid[:-1]) == sim.iccid[-1]
        assert sim.imsi.startswith(sim.operator.mcc + sim.operator.mnc) and len(sim.imsi) == 15
        assert sim.operator.owns(sim.msisdn) and len(sim.msisdn) == 14
    imei = make_imei("86777703", 3, 5)
    assert len(imei) == 15 and luhn_digit(imei[:-1]) == imei[-1]
    assert {s.operator.name for s in sims} == {"SimTel", "SimFone", "SimO"}


def test_number_normalisation() -> None:
    assert normalize_number("015112345678") == "+4915112345678"
    assert normalize_number("004915112345678") == "+4915112345678"
    assert normalize_number("+4915112345678") == "+4915112345678"
    assert normalize_number("1234") == "1234"

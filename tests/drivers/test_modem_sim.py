"""The typed Modem API against the simulator (in process): every dialect, SMS both ways, status
reports, USSD, storage and reset."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import pytest

from drivers.errors import InvalidRequest
from drivers.events import (
    MessageStored,
    ModemEvent,
    StatusReportReceived,
    StatusReportStored,
    UssdStatus,
)
from drivers.modem import Modem
from drivers.pdu import Deliver, StatusReport, decode_pdu, encode_submit
from tests.drivers.conftest import PROFILES, SimRig

DIALECT_OF = {"generic": "generic", "sim800": "simcom", "sim7600": "simcom", "ec25": "quectel",
              "e3372": "huawei"}


E = TypeVar("E")


async def wait_for(
    events: list[ModemEvent], kind: type[E], count: int = 1, limit: float = 3.0
) -> list[E]:
    async with asyncio.timeout(limit):
        while True:
            found: list[E] = [e for e in events if isinstance(e, kind)]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.01)


async def send_text(sender: Modem, to: str, text: str, *, report: bool = False) -> int:
    (part,) = encode_submit(to, text, request_status_report=report)
    return await sender.send_pdu(part.hex, part.tpdu_length)


@pytest.mark.parametrize("profile", PROFILES)
async def test_identity_and_health(rig: SimRig, profile: str) -> None:
    modem, sim_modem = await rig.ready(profile)
    identity = modem.identity
    assert identity is not None
    assert identity.dialect == DIALECT_OF[profile]
    assert identity.imei == sim_modem.imei
    assert identity.imsi == sim_modem.sim.imsi
    assert identity.iccid == sim_modem.sim.iccid
    assert identity.msisdn == sim_modem.sim.msisdn
    health = await modem.health()
    assert health.sim_state == "ready" and health.registered and not health.roaming
    assert health.operator_numeric == sim_modem.sim.operator.numeric
    assert health.operator_name == sim_modem.sim.operator.name
    assert health.rssi == sim_modem.rssi and health.signal_dbm == -113 + 2 * sim_modem.rssi
    assert health.storage_total is not None and health.storage_used == 0
    assert await modem.initialize() == identity  # idempotent


@pytest.mark.parametrize("profile", PROFILES)
async def test_sms_round_trip_between_two_modems(rig: SimRig, profile: str) -> None:
    a, _ = await rig.ready(profile)
    b, sim_b = await rig.ready(profile)
    events: list[ModemEvent] = []
    b.subscribe(events.append)
    mr = await send_text(a, sim_b.sim.msisdn, "hello from a")
    assert 0 <= mr <= 255
    (stored,) = await wait_for(events, MessageStored)
    message = await b.read_message(stored.index)
    assert message is not None and message.index == stored.index
    pdu = decode_pdu(message.pdu_hex)
    assert isinstance(pdu, Deliver) and pdu.user_data.text == "hello from a"
    listed = await b.list_messages()
    assert [m.index for m in listed] == [stored.index]
    await b.delete_message(stored.index)
    assert await b.read_message(stored.index) is None
    await b.delete_message(stored.index)  # deleting an empty slot is harmless
    assert await b.list_messages() == []


async def test_mr_increments_and_burst(rig: SimRig) -> None:
    a, _ = await rig.ready()
    _, sim_b = await rig.ready()
    await a.set_burst(True)
    mrs = [await send_text(a, sim_b.sim.msisdn, f"part {i}") for i in range(3)]
    await a.set_burst(False)
    assert mrs == [mrs[0], (mrs[0] + 1) % 256, (mrs[0] + 2) % 256]


@pytest.mark.parametrize("profile", ["generic", "sim7600"])
async def test_status_reports_routed_or_stored(rig: SimRig, profile: str) -> None:
    a, _ = await rig.ready(profile)
    _, sim_b = await rig.ready(profile)
    events: list[ModemEvent] = []
    a.subscribe(events.append)
    mr = await send_text(a, sim_b.sim.msisdn, "report me", report=True)
    async with asyncio.timeout(3):
        while not any(isinstance(e, StatusReportReceived | StatusReportStored) for e in events):
            await asyncio.sleep(0.01)
    event = next(e for e in events if isinstance(e, StatusReportReceived | StatusReportStored))
    if isinstance(event, StatusReportStored):  # SIM7600 rejects ds=1: stored in "SR"
        assert a._cnmi == "2,1,2,2,0"
        stored = await a.read_message(event.index, storage=event.storage)
        assert stored is not None and stored.storage == event.storage
        pdu_hex = stored.pdu_hex
        await a.delete_message(event.index, storage=event.storage)
    else:
        pdu_hex = event.pdu_hex
    report = decode_pdu(pdu_hex)
    assert isinstance(report, StatusReport) and report.message_reference == mr
    assert (await a.health()).storage_used == 0  # the read storage was switched back


async def test_status_reports_waiting_in_sr_are_listed(rig: SimRig) -> None:
    """The start-up drain: reports stored in "SR" while nobody listened are found by listing."""
    a, _ = await rig.ready("sim7600")  # rejects +CNMI ds=1: reports are stored in "SR"
    _, sim_b = await rig.ready("sim7600")
    events: list[ModemEvent] = []
    a.subscribe(events.append)
    mrs = {await send_text(a, sim_b.sim.msisdn, f"report {i}", report=True) for i in range(2)}
    await wait_for(events, StatusReportStored, count=2)
    assert await a.list_messages() == []  # the home storage holds no reports
    listed = await a.list_messages(storage="SR")
    assert len(listed) == 2 and {m.storage for m in listed} == {"SR"}
    reports = [decode_pdu(m.pdu_hex) for m in listed]
    assert all(isinstance(r, StatusReport) for r in reports)
    assert {r.message_reference for r in reports if isinstance(r, StatusReport)} == mrs
    for message in listed:
        await a.delete_message(message.index, storage="SR")
    assert await a.list_messages(storage="SR") == []
    assert (await a.health()).storage_used == 0  # the read storage was switched back


@pytest.mark.parametrize("profile", PROFILES)
async def test_ussd_balance_decoded_per_dialect(rig: SimRig, profile: str) -> None:
    modem, sim_modem = await rig.ready(profile)
    result = await modem.ussd("*100#")
    assert result.status == UssdStatus.DONE
    assert result.text is not None and result.text.startswith(sim_modem.sim.operator.name)
    menu = await modem.ussd("*111#")  # a menu: the driver closes the session
    assert menu.status == UssdStatus.ACTION_REQUIRED and menu.text and "Balance" in menu.text
    unknown = await modem.ussd("*999#")
    assert unknown.status == UssdStatus.NOT_SUPPORTED and not unknown.ok


async def test_ussd_refuses_free_text(rig: SimRig) -> None:
    modem, _ = await rig.ready()
    for bad in ('*100#"\r\nAT+CMGS', "hello", ""):
        with pytest.raises(InvalidRequest):
            await modem.ussd(bad)


async def test_send_pdu_refuses_inconsistent_lengths(rig: SimRig) -> None:
    modem, _ = await rig.ready()
    (part,) = encode_submit("+4915205550001", "x")
    with pytest.raises(InvalidRequest):
        await modem.send_pdu(part.hex, part.tpdu_length + 1)
    with pytest.raises(InvalidRequest):
        await modem.send_pdu(part.hex + "\x1a", part.tpdu_length)


@pytest.mark.parametrize("profile", ["generic", "ec25"])
async def test_reset_reinitialises(rig: SimRig, profile: str) -> None:
    modem, sim_modem = await rig.ready(profile)
    identity = modem.identity
    await modem.reset()
    assert modem.ready and modem.identity == identity
    assert sim_modem.counters.reboots == 1
    assert sim_modem.settings.echo is False and sim_modem.settings.cmgf == 0

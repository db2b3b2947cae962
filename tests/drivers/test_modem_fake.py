"""Modem behaviours that need one exact firmware answer (scripted at the byte level)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from drivers.at import commands as at
from drivers.config import ModemConfig
from drivers.errors import AtError, ErrorClass, ProtocolError, SubmitOutcomeUnknown
from drivers.events import MessageReceived, ModemEvent, StatusReportReceived
from drivers.modem import Modem
from tests.drivers.at_fakes import FakeTransport, ScriptedModem

PDU = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
SUBMIT = "0001030D91945102550500F1000005E8329BFD06"  # smsc 00 + 19-octet TPDU


class Rig:
    def __init__(self) -> None:
        self.modem = Modem(name="fake", config=ModemConfig.fast(command_timeout=0.3))
        self.transport = FakeTransport(self.modem.channel)
        self.modem.channel.connection_made(self.transport)
        self.fake = ScriptedModem(self.transport)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    r = Rig()
    yield r
    await r.modem.close()


async def test_init_with_echo_on_and_cnmi_fallback(rig: Rig) -> None:
    rig.fake.echo = True  # power-on default
    rig.fake.replies["AT+CNMI=2,1,2,1,0"] = ["+CMS ERROR: 303"]  # Qualcomm: no routed reports
    rig.fake.replies["AT+CNMI=2,1,2,2,0"] = ["OK"]
    identity = await rig.modem.initialize()
    assert identity.imei == "356938035643809" and identity.iccid == "89490112345678901234"
    assert identity.msisdn == "+4917012345678" and identity.dialect == "generic"
    assert rig.modem._cnmi == "2,1,2,2,0"
    assert "ATE0" in rig.fake.received and not rig.fake.echo


async def test_sim_busy_then_ready(rig: Rig) -> None:
    answers = iter([["+CME ERROR: 14"], ["+CPIN: NOT READY", "OK"], ["+CPIN: READY", "OK"]])
    rig.fake.replies["AT+CPIN?"] = lambda _c: next(answers, ["+CPIN: READY", "OK"])
    await rig.modem.initialize()
    assert rig.fake.received.count("AT+CPIN?") == 3


async def test_sms_not_ready_is_retried(rig: Rig) -> None:
    answers = iter([["+CMS ERROR: 302"], ["ERROR"]])
    rig.fake.replies["AT+CMGF=0"] = lambda _c: next(answers, ["OK"])
    await rig.modem.initialize()
    assert rig.fake.received.count("AT+CMGF=0") == 3


async def test_ok_without_cmgs_is_not_sent(rig: Rig) -> None:
    await rig.modem.initialize()
    rig.fake.submit_reply = ["OK"]  # modem-behaviour row 7
    with pytest.raises(SubmitOutcomeUnknown):
        await rig.modem.send_pdu(SUBMIT, 19)
    rig.fake.submit_reply = ["+CMGS: 200", "OK"]
    assert await rig.modem.send_pdu(SUBMIT, 19) == 200
    assert rig.fake.received[-1] == "PDU:" + SUBMIT


async def test_verbose_error_on_submit(rig: Rig) -> None:
    await rig.modem.initialize()
    rig.fake.submit_reply = ["+CMS ERROR: Network out of order"]
    with pytest.raises(AtError) as info:
        await rig.modem.send_pdu(SUBMIT, 19)
    assert info.value.code == 38 and info.value.error_class is ErrorClass.TEMPORARY


async def test_direct_delivery_is_acked_when_required(rig: Rig) -> None:
    rig.fake.replies["AT+CSMS?"] = ["+CSMS: 1,1,1,1", "OK"]
    rig.fake.replies["AT+CNMA"] = ["OK"]
    await rig.modem.initialize()
    events: list[ModemEvent] = []
    rig.modem.subscribe(events.append)
    rig.fake.send(f"\r\n+CMT: ,29\r\n{PDU}\r\n\r\n+CDS: 25\r\n{PDU}\r\n".encode())
    async with asyncio.timeout(2):
        while rig.fake.received.count("AT+CNMA") < 2:
            await asyncio.sleep(0.01)
    assert events == [MessageReceived(PDU), StatusReportReceived(PDU)]


async def test_burst_unsupported_is_remembered(rig: Rig) -> None:
    await rig.modem.initialize()
    rig.fake.replies["AT+CMMS=2"] = ["+CME ERROR: 4"]
    await rig.modem.set_burst(True)
    await rig.modem.set_burst(True)
    assert rig.fake.received.count("AT+CMMS=2") == 1


async def test_subscriber_errors_are_contained(rig: Rig) -> None:
    await rig.modem.initialize()
    seen: list[ModemEvent] = []

    def broken(_e: ModemEvent) -> None:
        raise RuntimeError("bug in a subscriber")

    rig.modem.subscribe(broken)
    unsubscribe = rig.modem.subscribe(seen.append)
    rig.fake.lines('+CMTI: "SM",5')
    await asyncio.sleep(0.02)
    unsubscribe()
    rig.fake.lines('+CMTI: "SM",6')
    await asyncio.sleep(0.02)
    assert len(seen) == 1


async def test_reset_of_a_modem_without_boot_banner_probes(rig: Rig) -> None:
    rig.fake.replies["AT+CGMI"] = ["Sierra Wireless, Incorporated", "OK"]
    rig.fake.replies["AT+CGMM"] = ["MC7455", "OK"]
    rig.fake.replies["AT+CNMI=2,1,2,2,0"] = ["OK"]
    rig.fake.replies["AT+CFUN=1,1"] = ["OK"]
    identity = await rig.modem.initialize()
    assert identity.dialect == "sierra" and rig.modem._cnmi == "2,1,2,2,0"
    await rig.modem.reset()  # no banner: it probes and re-initialises
    assert rig.modem.ready and rig.fake.received.count("AT+CFUN=1,1") == 1
    assert rig.fake.received.count("ATE0") == 2


async def test_an_answer_that_does_not_fit_triggers_a_resync(rig: Rig) -> None:
    await rig.modem.initialize()
    rig.fake.replies["AT+CSQ"] = ["OK"]  # e.g. a stale OK: no +CSQ line
    with pytest.raises(ProtocolError):
        await rig.modem.execute(at.SIGNAL)
    rig.fake.replies["AT+CSQ"] = ["+CSQ: 11,99", "OK"]
    assert await rig.modem.execute(at.SIGNAL) == (11, 99)
    assert rig.fake.received[-2:] == ["AT+CMEE?", "AT+CSQ"]

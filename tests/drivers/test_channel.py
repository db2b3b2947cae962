"""The channel against a scripted byte-level fake: one command in flight, URCs stripped wherever
they land, deadlines, the prompt, ESC, resync after a late answer, and the one fatal path."""

from __future__ import annotations

import asyncio
import random

import pytest

from drivers.at.channel import CTRL_Z, ESC
from drivers.errors import (
    AtError,
    CommandTimeout,
    ConnectionLost,
    ErrorClass,
    ModemRebootedError,
    PromptTimeout,
    SubmitOutcomeUnknown,
)
from drivers.events import MessageReceived, MessageStored, StatusReportReceived, UssdReceived
from tests.drivers.conftest import Wired

CSQ = frozenset({"+CSQ:"})
PDU = "0791947106004034040C9194710716000000009930115045400003C16010"


async def test_simple_command(wired: Wired) -> None:
    response = await wired.channel.execute("AT+CSQ", deadline=1, prefixes=CSQ)
    assert response.lines == ("+CSQ: 20,99",) and response.ok
    assert wired.transport.written == [b"AT+CSQ\r"]


@pytest.mark.parametrize("seed", range(5))
async def test_random_chunks_and_echo(wired: Wired, seed: int) -> None:
    wired.modem.rng = random.Random(seed)
    wired.modem.echo = True
    for _ in range(5):
        response = await wired.channel.execute("AT+CSQ", deadline=1, prefixes=CSQ)
        assert response.lines == ("+CSQ: 20,99",)


async def test_error_final_raises_with_class(wired: Wired) -> None:
    wired.modem.replies["AT+CPMS?"] = ["+CMS ERROR: 314"]
    with pytest.raises(AtError) as info:
        await wired.channel.execute("AT+CPMS?", deadline=1, prefixes=frozenset({"+CPMS:"}))
    assert info.value.code == 314 and info.value.error_class is ErrorClass.TEMPORARY
    unchecked = await wired.channel.execute("AT+CPMS?", deadline=1, check=False)
    assert unchecked.final == "+CMS ERROR: 314"


async def test_urc_between_info_and_ok_is_not_glued(wired: Wired) -> None:
    wired.modem.replies["AT+CSQ"] = ["+CSQ: 20,99", '+CMTI: "SM",4', "OK"]
    response = await wired.channel.execute("AT+CSQ", deadline=1, prefixes=CSQ)
    assert response.lines == ("+CSQ: 20,99",)
    assert wired.events == [MessageStored("SM", 4)]


async def test_urc_in_same_read_as_reply(wired: Wired) -> None:
    wired.modem.replies["AT+CSQ"] = None
    task = asyncio.create_task(wired.channel.execute("AT+CSQ", deadline=1, prefixes=CSQ))
    await asyncio.sleep(0)
    wired.modem.send(b"\r\n+CSQ: 9,99\r\n\r\nOK\r\n\r\n+CMTI: \"ME\",1\r\n")
    response = await task
    assert response.lines == ("+CSQ: 9,99",)
    await asyncio.sleep(0.01)
    assert wired.events == [MessageStored("ME", 1)]


async def test_urc_inside_echo_is_stripped_and_echo_ignored(wired: Wired) -> None:
    wired.modem.replies["AT+CMGL=4"] = None
    task = asyncio.create_task(
        wired.channel.execute("AT+CMGL=4", deadline=1, prefixes=frozenset({"+CMGL:"}))
    )
    await asyncio.sleep(0)
    # echo cut by a URC on its own lines, then a URC glued to the rest of the echo
    wired.modem.send(b'AT+CM\r\n+CMTI: "SM",2\r\nGL+CMTI: "SM",3\r\n=4\r\r\n+CMGL: 1,0,,23\r\n')
    wired.modem.send(PDU.encode() + b"\r\n\r\nOK\r\n")
    response = await task
    assert response.lines == ("+CMGL: 1,0,,23", PDU)
    assert wired.events == [MessageStored("SM", 2), MessageStored("SM", 3)]


async def test_two_line_urcs_byte_by_byte(wired: Wired) -> None:
    data = f'\r\n+CMT: ,23\r\n{PDU}\r\n\r\n+CDS: 25\r\n{PDU}\r\n\r\n+CDSI: "SR",1\r\n'.encode()
    wired.transport.feed(data, [bytes([b]) for b in data])
    await asyncio.sleep(0.05)
    assert wired.events[:2] == [MessageReceived(PDU), StatusReportReceived(PDU)]
    assert len(wired.events) == 3


async def test_cmt_during_a_command_never_completes_it(wired: Wired) -> None:
    wired.modem.replies["AT+CSQ"] = ["+CMT: ,23", PDU, "+CSQ: 5,99", "OK"]
    response = await wired.channel.execute("AT+CSQ", deadline=1, prefixes=CSQ)
    assert response.lines == ("+CSQ: 5,99",)
    assert wired.events == [MessageReceived(PDU)]


async def test_unknown_unsolicited_plus_line_not_glued(wired: Wired) -> None:
    wired.modem.replies["AT+CSQ"] = ["+XYZ: 1", "^RSSI:3", "+CSQ: 5,99", "OK"]
    response = await wired.channel.execute("AT+CSQ", deadline=1, prefixes=CSQ)
    assert response.lines == ("+CSQ: 5,99",)


async def test_solicited_creg_goes_to_command_unsolicited_to_router(wired: Wired) -> None:
    wired.modem.replies["AT+CREG?"] = ["+CREG: 1", "+CREG: 2,5,\"00C3\",\"1A2B\"", "OK"]
    response = await wired.channel.execute("AT+CREG?", deadline=1, prefixes=frozenset({"+CREG:"}))
    assert response.lines == ('+CREG: 2,5,"00C3","1A2B"',)
    assert [type(e).__name__ for e in wired.events] == ["RegistrationChanged"]


async def test_cpin_claimed_by_query_but_urc_otherwise(wired: Wired) -> None:
    response = await wired.channel.execute("AT+CPIN?", deadline=1, prefixes=frozenset({"+CPIN:"}))
    assert response.lines == ("+CPIN: READY",)
    wired.modem.lines("+CPIN: NOT INSERTED")
    await asyncio.sleep(0.01)
    assert [type(e).__name__ for e in wired.events] == ["SimStateChanged"]


async def test_multiline_cusd(wired: Wired) -> None:
    wired.modem.send(b'\r\n+CUSD: 0,"Balance 5.00\r\nValid 2025",15\r\n')
    await asyncio.sleep(0.01)
    text = "Balance 5.00\nValid 2025"
    assert wired.events == [UssdReceived(0, text, 15, text)]


async def test_timeout_then_late_answer_does_not_complete_next_command(wired: Wired) -> None:
    wired.modem.replies["AT+CGSN"] = None  # silent
    with pytest.raises(CommandTimeout):
        await wired.channel.execute("AT+CGSN", deadline=0.05)
    wired.modem.lines("123456789012345", "OK")  # the late answer
    wired.modem.replies["AT+CSQ"] = ["+CSQ: 7,99", "OK"]
    response = await wired.channel.execute("AT+CSQ", deadline=1, prefixes=CSQ)
    assert response.lines == ("+CSQ: 7,99",)
    assert "AT+CMEE?" in wired.modem.received  # the resync probe


async def test_late_answer_arriving_during_resync_is_dropped(wired: Wired) -> None:
    wired.modem.replies["AT+CGSN"] = None
    with pytest.raises(CommandTimeout):
        await wired.channel.execute("AT+CGSN", deadline=0.05)

    def late_then_sync(_c: str) -> list[str]:
        return ["356938035643809", "OK", "+CMEE: 1", "OK"]

    wired.modem.replies["AT+CMEE?"] = late_then_sync
    response = await wired.channel.execute("AT", deadline=1)
    assert response.ok and wired.channel.stale_lines >= 2


async def test_silent_modem_times_out_every_time(wired: Wired) -> None:
    wired.modem.silent = True
    for _ in range(2):
        with pytest.raises(CommandTimeout):
            await wired.channel.execute("AT", deadline=0.05)


async def test_submit_happy_path(wired: Wired) -> None:
    response = await wired.channel.submit(
        "AT+CMGS=24", PDU, prompt_deadline=1, deadline=1
    )
    assert response.lines == ("+CMGS: 7",)
    assert wired.transport.written == [b"AT+CMGS=24\r", PDU.encode() + CTRL_Z]


async def test_submit_prompt_without_space_and_echo(wired: Wired) -> None:
    wired.modem.prompt = b">"
    wired.modem.echo = True
    wired.modem.rng = random.Random(3)
    response = await wired.channel.submit("AT+CMGS=24", PDU, prompt_deadline=1, deadline=1)
    assert response.lines == ("+CMGS: 7",)


async def test_missing_prompt_sends_esc_and_nothing_else(wired: Wired) -> None:
    wired.modem.prompt = b""
    with pytest.raises(PromptTimeout):
        await wired.channel.submit("AT+CMGS=24", PDU, prompt_deadline=0.05, deadline=1)
    assert wired.transport.written == [b"AT+CMGS=24\r", ESC]
    assert not any(PDU.encode() in w for w in wired.transport.written)


async def test_error_instead_of_prompt(wired: Wired) -> None:
    wired.modem.prompt = b"\r\n+CMS ERROR: 304\r\n"
    response = await wired.channel.submit("AT+CMGS=24", PDU, prompt_deadline=1, deadline=1)
    with pytest.raises(AtError) as info:
        response.raise_for_error()
    assert info.value.error_class is ErrorClass.BUG


async def test_no_answer_after_ctrl_z_is_outcome_unknown(wired: Wired) -> None:
    wired.modem.submit_reply = None
    with pytest.raises(SubmitOutcomeUnknown):
        await wired.channel.submit("AT+CMGS=24", PDU, prompt_deadline=1, deadline=0.05)
    # the late +CMGS must not complete the next command
    wired.modem.lines("+CMGS: 9", "OK")
    response = await wired.channel.execute("AT+CSQ", deadline=1, prefixes=CSQ)
    assert response.lines == ("+CSQ: 20,99",)


async def test_cancelled_submit_waiting_for_prompt_sends_esc(wired: Wired) -> None:
    wired.modem.prompt = b""
    task = asyncio.create_task(
        wired.channel.submit("AT+CMGS=24", PDU, prompt_deadline=5, deadline=5)
    )
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert wired.transport.written[-1] == ESC


async def test_one_command_in_flight(wired: Wired) -> None:
    wired.modem.replies["AT+CSQ"] = ["+CSQ: 1,99", "OK"]
    results = await asyncio.gather(
        *(wired.channel.execute("AT+CSQ", deadline=1, prefixes=CSQ) for _ in range(10))
    )
    assert all(r.lines == ("+CSQ: 1,99",) for r in results)
    assert wired.modem.received == ["AT+CSQ"] * 10


async def test_unplug_fails_waiter_and_everything_after(wired: Wired) -> None:
    wired.modem.replies["AT+CSQ"] = None
    task = asyncio.create_task(wired.channel.execute("AT+CSQ", deadline=5))
    await asyncio.sleep(0.01)
    wired.transport.unplug()
    with pytest.raises(ConnectionLost):
        await task
    with pytest.raises(ConnectionLost):
        await wired.channel.execute("AT", deadline=1)
    assert len(wired.lost) == 1


async def test_unplug_during_prompt_wait(wired: Wired) -> None:
    wired.modem.prompt = b""
    task = asyncio.create_task(
        wired.channel.submit("AT+CMGS=24", PDU, prompt_deadline=5, deadline=5)
    )
    await asyncio.sleep(0.01)
    wired.transport.unplug()
    with pytest.raises(ConnectionLost):
        await task


async def test_reboot_aborts_pending_command(wired: Wired) -> None:
    wired.modem.replies["AT+CSQ"] = None
    task = asyncio.create_task(wired.channel.execute("AT+CSQ", deadline=5))
    await asyncio.sleep(0.01)
    wired.channel.abort_pending("RDY")
    with pytest.raises(ModemRebootedError):
        await task


async def test_reboot_after_ctrl_z_is_outcome_unknown(wired: Wired) -> None:
    wired.modem.submit_reply = None
    task = asyncio.create_task(
        wired.channel.submit("AT+CMGS=24", PDU, prompt_deadline=1, deadline=5)
    )
    await asyncio.sleep(0.02)
    wired.channel.abort_pending("RDY")
    with pytest.raises(SubmitOutcomeUnknown):
        await task


async def test_garbage_between_lines_and_before_final(wired: Wired) -> None:
    noise = bytes([0xFF, 0x00, 0x93, 0x1F, 0xFE])
    wired.modem.replies["AT+CSQ"] = None
    task = asyncio.create_task(wired.channel.execute("AT+CSQ", deadline=1, prefixes=CSQ))
    await asyncio.sleep(0)
    wired.modem.send(noise + b"\r\n+CSQ: 3,99\r\n" + noise + b"\r\nOK" + noise + b"\r\n")
    response = await task
    assert response.lines == ("+CSQ: 3,99",)


async def test_broken_urc_handler_does_not_break_channel(wired: Wired) -> None:
    def boom(_urc: object) -> None:
        raise RuntimeError("subscriber bug")

    wired.channel.on_urc = boom
    wired.modem.replies["AT+CSQ"] = ['+CMTI: "SM",1', "+CSQ: 2,99", "OK"]
    response = await wired.channel.execute("AT+CSQ", deadline=1, prefixes=CSQ)
    assert response.lines == ("+CSQ: 2,99",)

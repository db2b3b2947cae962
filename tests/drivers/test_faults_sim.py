"""Every fault of the simulator's catalogue (modem-behaviour.md) against the driver: it raises
the right error or recovers, never waits past its deadline, never loses or glues a URC."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from drivers.config import ModemConfig
from drivers.errors import (
    AtError,
    CommandTimeout,
    ConnectionLost,
    ErrorClass,
    ModemError,
    ModemNotReady,
    SimNotReady,
    SubmitOutcomeUnknown,
)
from drivers.events import (
    ConnectionLostEvent,
    IncomingCall,
    MessageStored,
    ModemEvent,
    ModemRebooted,
    RegistrationChanged,
    SimState,
    SimStateChanged,
    StorageFull,
)
from drivers.modem import Modem, ModemState
from drivers.pdu import Deliver, decode_pdu, encode_submit
from sim.faults import FaultKind, FaultSpec
from tests.drivers.conftest import PROFILES, SimRig

T = TypeVar("T")
FAST = ModemConfig.fast(command_timeout=0.5, probe_timeout=0.3, submit_timeout=0.6,
                        prompt_timeout=0.3, ussd_timeout=0.6, sms_ready_timeout=1.0)


async def within(awaitable: Awaitable[T], limit: float) -> T:
    """Run a driver call under an outer guard: a plain TimeoutError from the guard (not the
    driver's own CommandTimeout) means the driver waited past its deadline."""
    try:
        async with asyncio.timeout(limit):
            return await awaitable
    except TimeoutError as exc:
        if isinstance(exc, ModemError):
            raise
        pytest.fail(f"driver call still waiting after {limit} s: past its deadline")


async def until(predicate: Any, limit: float = 3.0) -> None:
    async with asyncio.timeout(limit):
        while not predicate():
            await asyncio.sleep(0.01)


async def pair(
    rig: SimRig, profile: str = "generic", config: ModemConfig = FAST
) -> tuple[Modem, Any, Modem, Any]:
    sender_sim = rig.add(profile)
    sender = await rig.connect(sender_sim, config)
    await sender.initialize()
    receiver_sim = rig.add(profile)
    receiver = await rig.connect(receiver_sim, config)
    await receiver.initialize()
    return sender, sender_sim, receiver, receiver_sim


async def send_text(modem: Modem, to: str, text: str) -> int:
    (part,) = encode_submit(to, text)
    return await modem.send_pdu(part.hex, part.tpdu_length)


def inject(sim_modem: Any, kind: FaultKind, **kw: Any) -> None:
    sim_modem.inject(FaultSpec(kind, **kw))


async def drain_inbox(modem: Modem) -> list[str]:
    texts = []
    for message in await modem.list_messages():
        pdu = decode_pdu(message.pdu_hex)
        assert isinstance(pdu, Deliver)
        texts.append(pdu.user_data.text or "")
        await modem.delete_message(message.index)
    return texts


# --- no answer -----------------------------------------------------------


async def test_hang_times_out_then_recovers(rig: SimRig) -> None:
    sim_modem = rig.add()
    modem = await rig.connect(sim_modem, FAST)
    await modem.initialize()
    inject(sim_modem, FaultKind.HANG)
    with pytest.raises(CommandTimeout):
        await within(modem.health(), 2.0)
    _, sim_b = await rig.ready()
    with pytest.raises(CommandTimeout):  # the resync probe finds it still silent
        await within(send_text(modem, sim_b.sim.msisdn, "x"), 2.0)
    sim_modem.clear_fault(FaultKind.HANG)  # the modem comes back (state kept)
    health = await within(modem.health(), 3.0)
    assert health.registered


async def test_hang_with_rdy_loop_then_recovers(rig: SimRig) -> None:
    sim_modem = rig.add(boot_time=0.05)
    modem = await rig.connect(sim_modem, FAST)
    await modem.initialize()
    events: list[ModemEvent] = []
    modem.subscribe(events.append)
    inject(sim_modem, FaultKind.HANG, mode="rdy_loop")
    with pytest.raises((CommandTimeout, ModemError)):
        await within(modem.health(), 2.0)
    assert any(isinstance(e, ModemRebooted) for e in events)
    sim_modem.clear_fault(FaultKind.HANG)
    sim_modem.reboot()  # a real modem in an RDY loop comes back through a boot
    await until(lambda: modem.ready, 5.0)
    assert (await modem.health()).registered


async def test_lost_submit_answer_is_outcome_unknown(rig: SimRig) -> None:
    sender, sender_sim, receiver, receiver_sim = await pair(rig)
    inject(sender_sim, FaultKind.LOST_SUBMIT_ANSWER)
    with pytest.raises(SubmitOutcomeUnknown):
        await within(send_text(sender, receiver_sim.sim.msisdn, "maybe"), 2.0)
    # the message did go out: "unknown" was the honest answer
    await until(lambda: receiver_sim.counters.received == 1)
    mr = await within(send_text(sender, receiver_sim.sim.msisdn, "next"), 2.0)
    assert 0 <= mr <= 255
    assert sorted(await drain_inbox(receiver)) == ["maybe", "next"]


async def test_slow_submit_within_deadline_succeeds(rig: SimRig) -> None:
    sender, sender_sim, _, receiver_sim = await pair(rig)
    inject(sender_sim, FaultKind.SLOW_SUBMIT, seconds=0.3)
    mr = await within(send_text(sender, receiver_sim.sim.msisdn, "slow"), 2.0)
    assert 0 <= mr <= 255


async def test_slow_submit_past_deadline_is_unknown_and_late_answer_ignored(rig: SimRig) -> None:
    sender, sender_sim, _, receiver_sim = await pair(rig)
    # answered 0.2 s after the deadline, while the next command's resync probe waits
    inject(sender_sim, FaultKind.SLOW_SUBMIT, seconds=0.8)
    with pytest.raises(SubmitOutcomeUnknown):
        await within(send_text(sender, receiver_sim.sim.msisdn, "too slow"), 2.0)
    # commands sent meanwhile wait in the modem; the late +CMGS never completes them
    health = await within(sender.health(), 3.0)
    assert health.registered and health.rssi == sender_sim.rssi
    mr = await within(send_text(sender, receiver_sim.sim.msisdn, "after"), 2.0)
    assert 0 <= mr <= 255
    await until(lambda: receiver_sim.counters.received == 2)


# --- errors -----------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [(500, ErrorClass.TEMPORARY), (21, ErrorClass.SIM), (1, ErrorClass.PERMANENT),
     (512, ErrorClass.TEMPORARY), (304, ErrorClass.BUG), (322, ErrorClass.MODEM)],
)
async def test_cms_error_on_submit(rig: SimRig, code: int, expected: ErrorClass) -> None:
    sender, sender_sim, _, receiver_sim = await pair(rig)
    inject(sender_sim, FaultKind.CMS_ERROR, code=code)
    with pytest.raises(AtError) as info:
        await within(send_text(sender, receiver_sim.sim.msisdn, "x"), 2.0)
    assert (info.value.kind, info.value.code, info.value.error_class) == ("CMS", code, expected)
    assert 0 <= await send_text(sender, receiver_sim.sim.msisdn, "y") <= 255  # count=1: over


async def test_cme_error_on_a_query(rig: SimRig) -> None:
    modem, sim_modem = await rig.ready()
    inject(sim_modem, FaultKind.CME_ERROR, code=14)
    health = await within(modem.health(), 2.0)  # CPIN? answered SIM busy
    assert health.sim_state == SimState.BUSY
    assert (await modem.health()).sim_state == SimState.READY


async def test_sim_removed(rig: SimRig) -> None:
    sim_modem = rig.add(boot_time=0.05)
    modem = await rig.connect(sim_modem, FAST)
    await modem.initialize()
    events: list[ModemEvent] = []
    modem.subscribe(events.append)
    inject(sim_modem, FaultKind.SIM_REMOVED)
    await until(lambda: any(isinstance(e, SimStateChanged) for e in events))
    health = await within(modem.health(), 3.0)
    assert health.sim_state != SimState.READY and not health.registered
    _, sim_b = await rig.ready()
    with pytest.raises(AtError) as info:
        await within(send_text(modem, sim_b.sim.msisdn, "x"), 2.0)
    assert info.value.error_class in (ErrorClass.SIM, ErrorClass.TEMPORARY)
    with pytest.raises((AtError, SimNotReady)) as init_error:
        await within(modem.initialize(), 4.0)
    assert init_error.value.error_class is ErrorClass.SIM
    sim_modem.clear_fault(FaultKind.SIM_REMOVED)  # SIM back: the modem reboots its SIM stack
    await until(lambda: modem.ready, 5.0)
    assert 0 <= await send_text(modem, sim_b.sim.msisdn, "back") <= 255


@pytest.mark.parametrize("profile", PROFILES)
async def test_pin_required_after_reboot(rig: SimRig, profile: str) -> None:
    sim_modem = rig.add(profile, boot_time=0.05)
    modem = await rig.connect(sim_modem, FAST)
    await modem.initialize()
    inject(sim_modem, FaultKind.PIN_REQUIRED)  # reboots with a locked SIM
    await until(lambda: modem.state is ModemState.NOT_READY, 5.0)
    with pytest.raises(SimNotReady) as info:
        await within(modem.initialize(), 4.0)
    assert info.value.error_class is ErrorClass.SIM and info.value.state == SimState.PIN_REQUIRED
    with pytest.raises(ModemNotReady):
        await within(send_text(modem, "+4915205550001", "x"), 1.0)
    health = await within(modem.health(), 3.0)
    assert health.sim_state == SimState.PIN_REQUIRED


async def test_network_lost_and_back(rig: SimRig) -> None:
    sender, sender_sim, _, receiver_sim = await pair(rig)
    events: list[ModemEvent] = []
    sender.subscribe(events.append)
    inject(sender_sim, FaultKind.NETWORK_LOST)
    await until(lambda: any(isinstance(e, RegistrationChanged) and not e.registered
                            for e in events))
    health = await sender.health()
    assert not health.registered and health.operator_numeric is None
    with pytest.raises(AtError) as info:
        await within(send_text(sender, receiver_sim.sim.msisdn, "x"), 2.0)
    assert info.value.code == 331 and info.value.error_class is ErrorClass.TEMPORARY
    sender_sim.clear_fault(FaultKind.NETWORK_LOST)
    await until(lambda: any(isinstance(e, RegistrationChanged) and e.registered
                            for e in events[-3:]))
    assert (await sender.health()).registered


@pytest.mark.parametrize("profile", PROFILES)
async def test_storage_full_is_signalled_and_drained(rig: SimRig, profile: str) -> None:
    sender, _, receiver, receiver_sim = await pair(rig, profile)
    events: list[ModemEvent] = []
    receiver.subscribe(events.append)
    inject(receiver_sim, FaultKind.STORAGE_FULL)
    health = await receiver.health()
    assert health.storage_used == health.storage_total
    await send_text(sender, receiver_sim.sim.msisdn, "waits in the network")
    await until(lambda: any(isinstance(e, StorageFull) for e in events))
    messages = await receiver.list_messages()
    assert len(messages) == health.storage_total
    for message in messages:
        await receiver.delete_message(message.index)
    await until(lambda: any(isinstance(e, MessageStored) for e in events))  # redelivered
    assert await drain_inbox(receiver) == ["waits in the network"]


# --- bytes on the wire -----------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": FaultKind.GARBAGE, "duration": 30.0},
        {"kind": FaultKind.SPLIT, "duration": 30.0},
        {"kind": FaultKind.URC_IN_RESPONSE, "duration": 30.0},
        {"kind": FaultKind.URC_STORM, "duration": 30.0, "rate": 200.0},
    ],
    ids=lambda f: f["kind"].value,
)
@pytest.mark.parametrize("profile", PROFILES)
async def test_wire_faults_lose_and_glue_nothing(
    rig: SimRig, profile: str, fault: dict[str, Any]
) -> None:
    sender, sender_sim, receiver, receiver_sim = await pair(rig, profile)
    stored: list[MessageStored] = []
    receiver.subscribe(lambda e: stored.append(e) if isinstance(e, MessageStored) else None)
    for sim_modem in (sender_sim, receiver_sim):
        sim_modem.inject(FaultSpec(**fault))
    texts = [f"message {i}" for i in range(4)]
    for text in texts:
        await within(send_text(sender, receiver_sim.sim.msisdn, text), 2.0)
        health = await within(receiver.health(), 2.0)
        assert health.registered and health.rssi == receiver_sim.rssi
    await until(lambda: len(stored) == len(texts))
    assert len({e.index for e in stored}) == len(texts)  # each +CMTI exactly once
    got = []
    for event in stored:
        message = await within(receiver.read_message(event.index), 2.0)
        assert message is not None
        pdu = decode_pdu(message.pdu_hex)
        assert isinstance(pdu, Deliver)
        got.append(pdu.user_data.text)
    assert got == texts


async def test_incoming_call_during_work(rig: SimRig) -> None:
    sender, sender_sim, _receiver, receiver_sim = await pair(rig)
    events: list[ModemEvent] = []
    sender.subscribe(events.append)
    inject(sender_sim, FaultKind.INCOMING_CALL, number="+4917099999999")
    for i in range(3):
        await send_text(sender, receiver_sim.sim.msisdn, f"during call {i}")
    await until(lambda: any(isinstance(e, IncomingCall) for e in events))
    assert await drain_inbox(_receiver) == [f"during call {i}" for i in range(3)]


# --- reboot and unplug -----------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
async def test_reboot_is_detected_and_reinitialised(rig: SimRig, profile: str) -> None:
    sender, _, receiver, receiver_sim = await pair(rig, profile)
    events: list[ModemEvent] = []
    receiver.subscribe(events.append)
    inject(receiver_sim, FaultKind.REBOOT)
    await until(lambda: any(isinstance(e, ModemRebooted) for e in events))
    await until(lambda: receiver.ready and receiver_sim.settings.cmgf == 0, 5.0)
    assert receiver_sim.settings.echo is False
    # +CNMI was restored: a new message is announced again
    await send_text(sender, receiver_sim.sim.msisdn, "after reboot")
    await until(lambda: any(isinstance(e, MessageStored) for e in events))
    assert await drain_inbox(receiver) == ["after reboot"]


async def test_reboot_during_submit_is_outcome_unknown(rig: SimRig) -> None:
    sender, sender_sim, _, receiver_sim = await pair(rig)
    inject(sender_sim, FaultKind.SLOW_SUBMIT, seconds=5.0)
    task = asyncio.create_task(send_text(sender, receiver_sim.sim.msisdn, "lost?"))
    await until(lambda: sender_sim.mode.value == "busy")
    sender_sim.reboot()
    with pytest.raises(SubmitOutcomeUnknown):
        await within(task, 2.0)
    await until(lambda: sender.ready, 5.0)


async def test_unplug_after_ctrl_z_is_outcome_unknown(rig: SimRig) -> None:
    """The PDU and Ctrl-Z were written: the SMS may have gone out, so not ConnectionLost."""
    sender, sender_sim, _, receiver_sim = await pair(rig)
    events: list[ModemEvent] = []
    sender.subscribe(events.append)
    inject(sender_sim, FaultKind.SLOW_SUBMIT, seconds=5.0)
    task = asyncio.create_task(send_text(sender, receiver_sim.sim.msisdn, "gone?"))
    await until(lambda: sender_sim.mode.value == "busy")  # the submit was accepted
    sender_sim.unplug(0.2)
    with pytest.raises(SubmitOutcomeUnknown) as caught:
        await within(task, 2.0)
    assert isinstance(caught.value.__cause__, ConnectionLost)
    assert sender.state is ModemState.LOST
    assert [type(e) for e in events].count(ConnectionLostEvent) == 1


async def test_unplug_before_the_prompt_is_connection_lost(rig: SimRig) -> None:
    """Nothing past `AT+CMGS=<n>` was written: nothing was sent, a resend is safe."""
    sender, sender_sim, _, receiver_sim = await pair(rig)
    inject(sender_sim, FaultKind.HANG)  # the command is swallowed: no prompt ever comes
    task = asyncio.create_task(send_text(sender, receiver_sim.sim.msisdn, "never sent"))
    await until(lambda: _pending_command(sender).startswith("AT+CMGS="))
    sender_sim.unplug(0.2)
    with pytest.raises(ConnectionLost):
        await within(task, 2.0)
    assert sender_sim.counters.submitted == 0


async def test_unplug_fails_waiters_and_publishes_once(rig: SimRig) -> None:
    modem, sim_modem = await rig.ready()
    events: list[ModemEvent] = []
    modem.subscribe(events.append)
    inject(sim_modem, FaultKind.HANG)
    task = asyncio.create_task(modem.channel.execute("AT+CSQ", deadline=5.0))
    await asyncio.sleep(0.05)
    sim_modem.unplug(0.2)
    with pytest.raises(ConnectionLost):
        await within(task, 1.0)
    with pytest.raises(ConnectionLost):
        await modem.health()
    with pytest.raises(ConnectionLost):
        await send_text(modem, "+4915205550001", "x")
    assert [type(e) for e in events].count(ConnectionLostEvent) == 1
    assert modem.state is ModemState.LOST


def _pending_command(modem: Modem) -> str:
    pending = modem.channel._pending
    return pending.command if pending is not None else ""

"""Outbound end to end: accepted by the gateway, sent over a pty, received by a handset."""

from __future__ import annotations

from gateway.store.models import MessageStatus, PartStatus
from gateway.submit import OutgoingMessage, Refused
from tests.e2e.e2e_rig import Rig, eventually, numbers

LONG_GSM = (
    "Your appointment on Tuesday at 10:30 with Dr. Example is confirmed. Please bring your "
    "insurance card and arrive ten minutes early; reply STOP to opt out, HELP for help. "
    "Directions: take the second entrance {north side} and ask at the desk ~ thanks!"
)
UNICODE = "Заказ №42 доставлен 📦 — спасибо! ありがとう " * 4


async def test_single_message_arrives_and_is_delivered(rig: Rig) -> None:
    await rig.start(2)
    (to,) = numbers(1)
    message_id = await rig.send(to, "Your code is 123456")
    (detail,) = await rig.wait_status([message_id], MessageStatus.DELIVERED)
    assert rig.received_texts(to) == ["Your code is 123456"]
    (part,) = detail.parts
    assert part.status is PartStatus.DELIVERED and part.mr is not None
    assert part.modem_id == detail.message.modem_id
    history = [t.to_status for t in detail.history]
    assert history[-3:] == [MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.DELIVERED]
    counters = {s.modem_id: s.counters for s in rig.gw.pool.statuses()}
    assert sum(c["messages_sent"] for c in counters.values()) == 1
    assert sum(c["status_reports"] for c in counters.values()) == 1


async def test_long_and_unicode_messages_use_one_sim_per_message(rig: Rig) -> None:
    await rig.start(3)
    a, b = numbers(2)
    ids = await rig.send_many([(a, LONG_GSM), (b, UNICODE)])
    details = await rig.wait_status(ids, MessageStatus.DELIVERED)
    assert rig.received_texts(a) == [LONG_GSM]
    assert rig.received_texts(b) == [UNICODE]
    gsm, ucs2 = (d.message for d in details)
    assert (gsm.encoding, gsm.segments) == ("gsm7", 2)
    assert ucs2.encoding == "ucs2" and ucs2.segments >= 3
    for detail in details:
        modems = {p.modem_id for p in detail.parts}
        assert modems == {detail.message.modem_id}, "all parts through one SIM"
        assert len({p.concat_ref for p in detail.parts}) == 1
        assert all(p.status is PartStatus.DELIVERED for p in detail.parts)


async def test_delivery_reports_decide_the_final_status(rig: Rig) -> None:
    await rig.start(2)
    ok, unknown = "+4915112340001", "+4915112340991"  # the sim's network: *0991 never delivers
    ids = await rig.send_many([(ok, "hello"), (unknown, "hello?")])
    delivered, undelivered = await rig.wait_status(
        ids, frozenset({MessageStatus.DELIVERED, MessageStatus.UNDELIVERED})
    )
    assert delivered.message.status is MessageStatus.DELIVERED
    assert undelivered.message.status is MessageStatus.UNDELIVERED
    assert undelivered.parts[0].report_status == 0x43


async def test_status_reports_stored_on_the_sim_are_read_and_deleted(rig: Rig) -> None:
    # the SIM7600 profile rejects +CNMI ds=1: reports come as +CDSI and wait in "SR" storage
    await rig.start(1, profile="sim7600")
    (to,) = numbers(1, start=2000)
    message_id = await rig.send(to, "reports via +CDSI")
    await rig.wait_status([message_id], MessageStatus.DELIVERED)
    sim_modem = rig.sim.modems[0]
    assert sim_modem.counters.status_reports == 1
    # deleted from "SR" once the report is committed (right after the status changed)
    await eventually(
        lambda: all(not store.messages for store in sim_modem.stores.values()),
        what="the report deleted from SR storage",
    )


async def test_reports_stored_while_the_gateway_was_down_are_drained_at_start(rig: Rig) -> None:
    """A delivery report that the modem stored in "SR" while nothing listened (the gateway
    stopped between the send and the report) is read at the next start, matched to its
    message and deleted from the modem."""
    await rig.start(1, profile="sim7600", report_delay=1.0)
    (to,) = numbers(1, start=2100)
    message_id = await rig.send(to, "reported after a restart")
    await rig.wait_status([message_id], MessageStatus.SENT)
    await rig.stop_gateway()
    sim_modem = rig.sim.modems[0]
    await eventually(lambda: bool(sim_modem.stores["SR"].messages),
                     what="the report waiting in SR storage")
    await rig.start_gateway()
    (detail,) = await rig.wait_status([message_id], MessageStatus.DELIVERED)
    assert detail.parts[0].report_status == 0
    await eventually(lambda: not sim_modem.stores["SR"].messages,
                     what="the report deleted from SR storage")


async def test_refusals_happen_before_anything_is_stored(rig: Rig) -> None:
    await rig.start(1)
    results = await rig.gw.submit([
        OutgoingMessage(to="12345", text="no country code"),
        OutgoingMessage(to="+4930123456", text="a fixed line"),
        OutgoingMessage(to="+4915112345678", text=""),
        OutgoingMessage(to="+4915112345678", text="x" * 2000),
        OutgoingMessage(to="+49 151 1234 5678", text="normalised"),
    ])
    codes = [r.code if isinstance(r, Refused) else "ok" for r in results]
    assert codes == ["invalid_number", "invalid_number", "empty_text", "too_long", "ok"]
    counts = await rig.gw.store.counts_by_status()
    assert sum(counts.values()) == 1
    accepted = results[-1]
    assert not isinstance(accepted, Refused)
    assert accepted.message.to == "+4915112345678"
    await rig.wait_status([accepted.message.id], MessageStatus.DELIVERED)

"""Inbound end to end: a handset texts a SIM; the gateway reads, stores, reassembles, deletes."""

from __future__ import annotations

from datetime import UTC, datetime

from drivers.pdu import encode_deliver
from gateway.store.models import InboundMessage, InboundQuery
from sim.network import tpdu_length_of
from sim.storage import Stat, StoredMessage
from tests.e2e.e2e_rig import Rig, eventually

SENDER = "+4917612345678"
LONG = (
    "Hi, this is a longer reply from a customer who wants to reschedule the delivery to next "
    "Thursday afternoon because nobody will be at home before four o'clock. Is that possible? "
    "Also, can the driver call before arriving? Thanks a lot, and have a nice day!"
)


async def inbound(rig: Rig) -> list[InboundMessage]:
    return await rig.gw.store.list_inbound(InboundQuery(limit=100))


def storage_used(rig: Rig, index: int = 0) -> int:
    return sum(store.used for store in rig.sim.modems[index].stores.values())


async def wait_inbound(rig: Rig, count: int, within: float = 10.0) -> list[InboundMessage]:
    async def probe() -> list[InboundMessage] | None:
        found = await inbound(rig)
        return found if len(found) >= count else None

    return await eventually(probe, within=within, what=f"{count} inbound message(s)")


async def test_single_sms_is_stored_then_deleted_from_the_sim(rig: Rig) -> None:
    await rig.start(2)
    heard: list[InboundMessage] = []
    rig.gw.pool.inbound_listeners.append(heard.append)
    rig.sim.net.send_from_handset(SENDER, "modem1", "Is my order on its way?")
    (message,) = await wait_inbound(rig, 1)
    assert (message.sender, message.complete) == (SENDER, True)
    assert message.text == "Is my order on its way?"
    assert message.modem_id == "modem1"
    assert [m.id for m in heard] == [message.id]  # listeners hear of it after the commit
    await eventually(lambda: storage_used(rig, 1) == 0, what="SIM storage emptied")


async def test_concatenated_parts_out_of_order_are_reassembled(rig: Rig) -> None:
    await rig.start(1)
    sent = rig.sim.net.send_from_handset(SENDER, "modem0", LONG, order="reverse")
    assert sent["parts"] == 2
    rig.sim.net.send_from_handset("+4915712345678", "modem0", "ü" * 150 + "!", order="shuffle")
    messages = await wait_inbound(rig, 2)
    by_sender = {m.sender: m for m in messages}
    assert by_sender[SENDER].text == LONG and by_sender[SENDER].complete
    assert by_sender[SENDER].parts_received == by_sender[SENDER].parts_expected == 2
    assert by_sender["+4915712345678"].text == "ü" * 150 + "!"
    await eventually(lambda: storage_used(rig) == 0, what="SIM storage emptied")


async def test_missing_part_is_delivered_incomplete_after_the_timeout(rig: Rig) -> None:
    await rig.start(1)
    heard: list[InboundMessage] = []
    rig.gw.janitor.on_message = heard.append
    sent = rig.sim.net.send_from_handset(SENDER, "modem0", LONG + " " + LONG, drop=[2])
    total = sent["parts"]
    assert total >= 3
    (message,) = await wait_inbound(rig, 1, within=10.0)
    await eventually(lambda: heard, what="the janitor's notice")
    assert [m.id for m in heard] == [message.id]
    assert not message.complete
    assert message.missing == (2,)
    assert (message.parts_received, message.parts_expected) == (total - 1, total)
    assert message.text.startswith(LONG[:100])


async def test_storage_is_drained_at_start_and_rereads_are_deduplicated(rig: Rig) -> None:
    await rig.start_sim(1)
    sim_modem = rig.sim.modems[0]
    # two messages wait on the SIM while no gateway runs; one of them is there twice, as after
    # a read whose delete never happened
    first = rig.sim.net.send_from_handset(SENDER, "modem0", "are you open on sunday?")
    assert first["parts"] == 1
    pdu = encode_deliver(
        "+4915212345678", "second", timestamp=datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    )[0]
    store = sim_modem.store("SM")
    for _ in range(2):
        store.add(StoredMessage(Stat.REC_READ, pdu.upper(), tpdu_length_of(pdu)))
    assert store.used == 3
    await rig.start_gateway()
    messages = await wait_inbound(rig, 2)
    assert sorted(m.text for m in messages) == ["are you open on sunday?", "second"]
    await eventually(lambda: store.used == 0, what="SIM storage drained")
    assert len(await inbound(rig)) == 2


async def test_a_repeated_text_from_a_person_is_kept(rig: Rig) -> None:
    await rig.start(1)
    rig.sim.net.send_from_handset(SENDER, "modem0", "yes")
    await wait_inbound(rig, 1)
    # a new SMSC timestamp (one-second resolution) makes it a new message, not a redelivery
    later = rig.sim.net.now()
    await eventually(lambda: rig.sim.net.now() > later, within=3.0, what="the next second")
    rig.sim.net.send_from_handset(SENDER, "modem0", "yes")
    messages = await wait_inbound(rig, 2)
    assert [m.text for m in messages] == ["yes", "yes"]


async def test_a_malformed_pdu_is_kept_raw_and_never_blocks_the_sim(rig: Rig) -> None:
    await rig.start(1)
    # an SMS-DELIVER header promising 160 septets of user data, then nothing
    bad = "0004" + "0B914951210000F0" + "0000" + "42500212345600" + "A0"
    rig.sim.net.send_raw_pdu("modem0", bad)
    rig.sim.net.send_from_handset(SENDER, "modem0", "still here")
    messages = await wait_inbound(rig, 2)
    by_encoding = {m.encoding: m for m in messages}
    assert by_encoding["undecodable"].sender == ""
    assert by_encoding["gsm7"].text == "still here"
    await eventually(lambda: storage_used(rig) == 0, what="SIM storage emptied")

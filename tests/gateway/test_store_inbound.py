"""Inbound SMS: durable parts, reassembly of long messages, dedupe that keeps real repeats."""

from __future__ import annotations

from datetime import datetime, timedelta

from drivers.pdu import Deliver, decode_pdu, encode_deliver
from gateway.store import InboundPart, InboundQuery, SqliteStore
from tests.gateway.gwhelpers import FakeClock


def part(
    clock: FakeClock,
    text: str,
    concat: tuple[int, int, int] | None = None,
    *,
    sender: str = "+447911123456",
    modem: str = "m1",
    scts: datetime | None = None,
    pdu: str | None = None,
) -> InboundPart:
    return InboundPart(
        modem_id=modem,
        sender=sender,
        text=text,
        encoding="gsm7",
        smsc_timestamp=scts or clock.now,
        received_at=clock.now,
        concat=concat,
        pdu=pdu,
    )


async def test_single_part_is_stored_at_once(store: SqliteStore, clock: FakeClock) -> None:
    result = await store.store_inbound(part(clock, "hello"))
    assert not result.duplicate and result.message is not None
    assert result.message.complete and result.message.text == "hello"
    assert await store.get_inbound(result.message.id) == result.message


async def test_reread_is_a_duplicate_but_a_repeated_text_is_kept(store: SqliteStore,
                                                                 clock: FakeClock) -> None:
    first = await store.store_inbound(part(clock, "yes"))
    reread = await store.store_inbound(part(clock, "yes"))  # same SMS read twice from the SIM
    assert reread.duplicate and reread.message is None
    clock.advance(30)
    again = await store.store_inbound(part(clock, "yes", scts=clock.now))  # they said it again
    assert not again.duplicate and again.message is not None
    assert again.message.id != (first.message.id if first.message else None)
    listed = await store.list_inbound(InboundQuery(sender="+447911123456"))
    assert [m.text for m in listed] == ["yes", "yes"]


async def test_concatenated_parts_out_of_order_with_a_redelivery(store: SqliteStore,
                                                                 clock: FakeClock) -> None:
    scts = clock.now
    assert (await store.store_inbound(part(clock, "world", (7, 3, 2), scts=scts))).message is None
    assert (await store.store_inbound(part(clock, "world", (7, 3, 2), scts=scts))).duplicate
    assert (await store.store_inbound(part(clock, "!", (7, 3, 3), scts=scts))).message is None
    done = await store.store_inbound(part(clock, "hello ", (7, 3, 1), scts=scts))
    assert done.message is not None and done.message.complete
    assert done.message.text == "hello world!" and done.message.parts_received == 3


async def test_reference_zero_and_separate_senders(store: SqliteStore,
                                                   clock: FakeClock) -> None:
    a = await store.store_inbound(part(clock, "a1", (0, 2, 1), sender="+447911000001"))
    b = await store.store_inbound(part(clock, "b2", (0, 2, 2), sender="+447911000002"))
    assert a.message is None and b.message is None  # same ref, other sender: other message
    done = await store.store_inbound(part(clock, "a2", (0, 2, 2), sender="+447911000001"))
    assert done.message is not None and done.message.text == "a1a2"


async def test_timeout_delivers_what_arrived(store: SqliteStore, clock: FakeClock) -> None:
    await store.store_inbound(part(clock, "first ", (9, 3, 1)))
    await store.store_inbound(part(clock, "last", (9, 3, 3)))
    clock.advance(60)
    assert await store.expire_reassembly(clock.now - timedelta(minutes=10)) == []
    clock.advance(600)
    [message] = await store.expire_reassembly(clock.now - timedelta(minutes=10))
    assert not message.complete and message.missing == (2,)
    assert message.text == "first last" and message.parts_expected == 3
    late = await store.store_inbound(part(clock, "middle ", (9, 3, 2)))
    assert late.message is None  # a straggler starts a new group rather than vanishing


async def test_wrapped_reference_closes_the_old_group(store: SqliteStore,
                                                      clock: FakeClock) -> None:
    await store.store_inbound(part(clock, "old1", (5, 2, 1)))
    clock.advance(5)
    result = await store.store_inbound(part(clock, "new1", (5, 2, 1), scts=clock.now))
    assert [m.text for m in result.flushed] == ["old1"] and not result.flushed[0].complete
    done = await store.store_inbound(part(clock, "new2", (5, 2, 2), scts=clock.now))
    assert done.message is not None and done.message.text == "new1new2"


async def test_decoded_network_pdus_round_trip(store: SqliteStore, clock: FakeClock) -> None:
    text = "A reply long enough to need two parts. " * 5
    hexes = encode_deliver("+447911123456", text, timestamp=clock.now, concat_ref=200)
    results = []
    for hex_pdu in reversed(hexes):
        deliver = decode_pdu(hex_pdu)
        assert isinstance(deliver, Deliver)
        concat = deliver.user_data.concat
        assert concat is not None and deliver.user_data.text is not None
        results.append(
            await store.store_inbound(
                InboundPart(
                    modem_id="m1",
                    sender=deliver.sender.number,
                    text=deliver.user_data.text,
                    encoding=deliver.user_data.encoding.value,
                    smsc_timestamp=deliver.timestamp,
                    received_at=clock.now,
                    pdu=hex_pdu,
                    concat=(concat.ref, concat.total, concat.seq),
                )
            )
        )
    assert results[-1].message is not None and results[-1].message.text == text


async def test_inbound_makes_the_sim_sticky(store: SqliteStore, clock: FakeClock) -> None:
    await store.store_inbound(part(clock, "hi", modem="m7"))
    sticky = await store.run_in_reader(
        lambda c: c.execute("SELECT modem_id FROM conversations").fetchall()
    )
    assert sticky == [("m7",)]


async def test_prune_forgets_old_dedupe_keys(store: SqliteStore, clock: FakeClock) -> None:
    await store.store_inbound(part(clock, "old"))
    clock.advance(8 * 24 * 3600)
    counts = await store.prune()
    assert counts["inbound_parts"] == 1

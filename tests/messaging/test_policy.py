"""The policy gate on the one door: opt-out, consent, opt-out instruction, quiet hours, caps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gateway.messaging.config import FrequencyCap, MessagingConfig, QuietHours
from gateway.messaging.contacts import Consent
from gateway.messaging.policy import next_allowed
from gateway.store.models import Category
from gateway.submit import Refused
from tests.gateway.gwhelpers import FakeClock
from tests.messaging.msgrig import MessagingRig

ANN = "+4915112345678"  # Europe/Berlin
BOB = "+4915112345679"
NYC = "+12125550123"  # America/New_York


async def test_opted_out_numbers_get_nothing(rig: MessagingRig) -> None:
    await rig.start()
    await rig.m.contacts.update(ANN, opted_out=True)
    result = await rig.send(ANN, "Your parcel arrives today")
    assert isinstance(result, Refused) and result.code == "opted_out"
    assert not isinstance(await rig.send(BOB, "Your parcel arrives today"), Refused)


async def test_marketing_needs_consent_and_carries_the_opt_out_instruction(
        rig: MessagingRig) -> None:
    await rig.start()
    refused = await rig.send(ANN, "20% off today", category=Category.MARKETING)
    assert isinstance(refused, Refused) and refused.code == "no_consent"
    await rig.m.contacts.update(ANN, consent={Category.MARKETING: Consent.GRANTED})
    sent = await rig.send(ANN, "20% off today", category=Category.MARKETING)
    assert not isinstance(sent, Refused)
    assert sent.message.text == "20% off today\nReply STOP to opt out"
    assert sent.message.segments == 1
    again = await rig.send(ANN, "Sale! Reply STOP to opt out", category=Category.MARKETING)
    assert not isinstance(again, Refused) and again.message.text.count("STOP") == 1


async def test_revoking_a_category_refuses_it_and_history_is_kept(rig: MessagingRig) -> None:
    await rig.start()
    await rig.m.contacts.update(ANN, consent={Category.TRANSACTIONAL: Consent.REVOKED})
    refused = await rig.send(ANN, "Your order shipped")
    assert isinstance(refused, Refused) and refused.code == "opted_out"
    history = await rig.m.contacts.history(ANN)
    assert [(e.category, e.action, e.source) for e in history] == [
        (Category.TRANSACTIONAL, "revoked", "api")]


async def test_quiet_hours_reschedule_marketing_to_the_next_allowed_time(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2025, 3, 10, 21, 30, tzinfo=UTC))  # 22:30 in Berlin
    rig = MessagingRig(tmp_path, clock)
    await rig.start()
    try:
        await rig.m.contacts.update(ANN, consent={Category.MARKETING: Consent.GRANTED})
        sent = await rig.send(ANN, "Offer", category=Category.MARKETING)
        assert not isinstance(sent, Refused)
        assert sent.message.status == "scheduled"
        assert sent.message.send_at == datetime(2025, 3, 11, 7, 0, tzinfo=UTC)  # 08:00 CET
        service = await rig.send(ANN, "Your engineer is on the way")  # transactional: now
        assert not isinstance(service, Refused) and service.message.send_at is None
        # a contact's own time zone wins over the number's
        await rig.m.contacts.update(ANN, time_zone="America/New_York")
        other = await rig.send(ANN, "Offer", category=Category.MARKETING)
        assert not isinstance(other, Refused) and other.message.send_at is None  # 17:30 NY
    finally:
        await rig.close()


def test_next_allowed_across_zones_and_midnight() -> None:
    start, end = QuietHours().start_time, QuietHours().end_time
    late = datetime(2025, 1, 15, 23, 0, tzinfo=UTC)  # 00:00 Berlin, 18:00 New York
    moved = next_allowed(late, ["Europe/Berlin"], start, end)
    assert moved == datetime(2025, 1, 16, 7, 0, tzinfo=UTC)
    both = next_allowed(late, ["Europe/Berlin", "America/New_York"], start, end)
    assert both == datetime(2025, 1, 16, 13, 0, tzinfo=UTC)  # 08:00 in New York, 14:00 Berlin
    assert next_allowed(late, ["America/New_York"], start, end) == late


async def test_frequency_caps_refuse_with_the_reason(rig: MessagingRig) -> None:
    await rig.start(MessagingConfig(frequency_caps=[FrequencyCap(max=2)]))
    await rig.m.contacts.update(ANN, consent={Category.MARKETING: Consent.GRANTED})
    for _ in range(2):
        assert not isinstance(await rig.send(ANN, "Offer", category=Category.MARKETING),
                              Refused)
    capped = await rig.send(ANN, "Offer", category=Category.MARKETING)
    assert isinstance(capped, Refused) and capped.code == "frequency_capped"
    assert "at most 2 marketing messages in 30 days" in capped.reason
    # an idempotent replay is not counted twice
    key = {"idempotency_key": "k1", "api_key": "app"}
    await rig.m.contacts.update(BOB, consent={Category.MARKETING: Consent.GRANTED})
    first = await rig.send(BOB, "Offer", category=Category.MARKETING, **key)
    replay = await rig.send(BOB, "Offer", category=Category.MARKETING, **key)
    assert not isinstance(first, Refused) and not isinstance(replay, Refused)
    assert replay.message.id == first.message.id and not replay.created
    assert not isinstance(await rig.send(BOB, "Offer 2", category=Category.MARKETING), Refused)
    rig.clock.advance(31 * 86400)  # the window moves on
    assert not isinstance(await rig.send(ANN, "Offer", category=Category.MARKETING), Refused)


async def test_a_batch_is_judged_message_by_message(rig: MessagingRig) -> None:
    await rig.start(MessagingConfig(frequency_caps=[FrequencyCap(max=1)]))
    await rig.m.contacts.update(ANN, consent={Category.MARKETING: Consent.GRANTED})
    from gateway.submit import OutgoingMessage

    assert rig.submitter is not None
    results = await rig.submitter.submit([
        OutgoingMessage(ANN, "a", category=Category.MARKETING),
        OutgoingMessage(ANN, "b", category=Category.MARKETING),
        OutgoingMessage(BOB, "c", category=Category.MARKETING),
        OutgoingMessage(BOB, "d"),
    ])
    codes = [r.code if isinstance(r, Refused) else "ok" for r in results]
    assert codes == ["ok", "frequency_capped", "no_consent", "ok"]

"""What the scheduler hands to which modem: lanes, fairness, limits, sticky SIM, routing, time."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.config import LaneMode, SchedulerConfig
from gateway.routing import Route, Router
from gateway.scheduler import Scheduler
from gateway.sim_limits import SimLimits
from gateway.store import InboundPart, Lane, MessageStatus, SqliteStore
from tests.gateway.gwhelpers import FakeClock, StoreFactory, modem, msg


async def drain(sched: Scheduler, name: str, **info: Any) -> list[str]:
    """Claim and send everything this modem may take now; returns texts in order."""
    texts = []
    while (job := await sched.next_job(modem(name, **info))) is not None:
        texts.append(job.text)
        await sched.part_sent(job, 1, len(texts))
    return texts


async def test_strict_lanes_then_fifo(scheduler: Scheduler) -> None:
    await scheduler.submit(
        [
            msg(text="bulk1", lane=Lane.BULK),
            msg(text="normal1"),
            msg(text="otp1", lane=Lane.OTP),
            msg(text="high1", lane=Lane.HIGH),
            msg(text="normal2"),
            msg(text="otp2", lane=Lane.OTP),
        ]
    )
    assert await drain(scheduler, "m1") == ["otp1", "otp2", "high1", "normal1", "normal2", "bulk1"]


async def test_weighted_lanes_give_bulk_a_share(store: SqliteStore, clock: FakeClock) -> None:
    config = SchedulerConfig(lanes=LaneMode.WEIGHTED)
    sched = Scheduler(store, config, clock=clock)
    try:
        await sched.submit([msg(text=f"otp{i}", lane=Lane.OTP) for i in range(30)])
        await sched.submit([msg(text=f"bulk{i}", lane=Lane.BULK) for i in range(30)])
        first = (await drain(sched, "m1"))[:27]
    finally:
        await sched.close()
    bulk = [t for t in first if t.startswith("bulk")]
    assert 2 <= len(bulk) <= 5  # about 1 in 9 with weights otp 8 : bulk 1
    assert first[0].startswith("otp")


async def test_senders_take_turns_inside_a_lane(scheduler: Scheduler) -> None:
    await scheduler.submit([msg(text=f"big{i}", sender="campaign") for i in range(50)])
    await scheduler.submit([msg(text="alice1", sender="alice"), msg(text="alice2", sender="alice")])
    await scheduler.submit([msg(text="bob1", sender="bob")])
    order = await drain(scheduler, "m1")
    assert len(order) == 53
    # The campaign queued first, yet the other senders are served within the first turns.
    assert set(order[:6]) >= {"alice1", "alice2", "bob1"}
    assert [t for t in order if t.startswith("big")] == [f"big{i}" for i in range(50)]


async def test_fairness_none_is_plain_fifo(store: SqliteStore, clock: FakeClock) -> None:
    sched = Scheduler(store, SchedulerConfig(fairness="none"), clock=clock)
    try:
        await sched.submit([msg(text=f"big{i}", sender="campaign") for i in range(5)])
        await sched.submit([msg(text="alice", sender="alice")])
        assert await drain(sched, "m1") == [*(f"big{i}" for i in range(5)), "alice"]
    finally:
        await sched.close()


async def test_per_minute_limit_skips_the_sim(scheduler: Scheduler, clock: FakeClock) -> None:
    await scheduler.submit([msg(text=f"m{i}") for i in range(5)])
    limited = SimLimits(per_minute=2)
    assert len(await drain(scheduler, "m1", limits=limited)) == 2
    assert await scheduler.next_job(modem("m1", limits=limited)) is None  # skipped, not failed
    assert (await scheduler._store.counts_by_status()) == {"sent": 2, "queued": 3}
    clock.advance(61)
    assert len(await drain(scheduler, "m1", limits=limited)) == 2
    assert len(await drain(scheduler, "m2")) == 1  # an unlimited SIM takes the rest


async def test_per_day_limit_survives_a_restart(open_store: StoreFactory,
                                                clock: FakeClock) -> None:
    store = await open_store()
    sched = Scheduler(store, SchedulerConfig(), clock=clock)
    await sched.submit([msg(text=f"m{i}") for i in range(5)])
    limited = SimLimits(per_day=3)
    assert len(await drain(sched, "m1", limits=limited)) == 3
    await sched.close()
    await store.close()
    store = await open_store()
    sched = Scheduler(store, SchedulerConfig(), clock=clock)
    try:
        assert await sched.next_job(modem("m1", limits=limited)) is None
        clock.advance(24 * 3600)
        assert len(await drain(sched, "m1", limits=limited)) == 2
    finally:
        await sched.close()


async def test_unique_recipient_cap_keeps_known_recipients(scheduler: Scheduler) -> None:
    capped = SimLimits(unique_recipients_per_month=2)
    await scheduler.submit([msg(to="+447911000001", text="a"), msg(to="+447911000002", text="b")])
    assert await drain(scheduler, "m1", limits=capped) == ["a", "b"]
    await scheduler.submit(
        [msg(to="+447911000003", text="new"), msg(to="+447911000001", text="known")]
    )
    assert await drain(scheduler, "m1", limits=capped) == ["known"]
    assert await drain(scheduler, "m2") == ["new"]


async def test_sticky_sim_while_available(scheduler: Scheduler, store: SqliteStore,
                                          clock: FakeClock) -> None:
    # The customer texted SIM m2: replies to them wait for m2 while m2 is available.
    await store.store_inbound(
        InboundPart(
            modem_id="m2",
            sender="+447911123456",
            text="hi",
            encoding="gsm7",
            smsc_timestamp=clock.now,
            received_at=clock.now,
        )
    )
    scheduler.modem_up(modem("m2"))
    await scheduler.submit([msg(text="reply"), msg(to="+447911654321", text="other")])
    assert await drain(scheduler, "m1") == ["other"]
    assert await drain(scheduler, "m2") == ["reply"]
    # Once m2 goes away, its conversations are served by others.
    await scheduler.submit([msg(text="reply2")])
    scheduler.modem_down("m2", "quarantined")
    assert await drain(scheduler, "m1") == ["reply2"]


async def test_routing_prefers_a_group_then_falls_back(store: SqliteStore,
                                                       clock: FakeClock) -> None:
    router = Router([Route(prefixes=("+4479",), carrier=None, group="uk")])
    config = SchedulerConfig(route_fallback_after_s=30)
    sched = Scheduler(store, config, router=router, clock=clock)
    try:
        sched.modem_up(modem("uk1", group="uk"))
        await sched.submit([msg(to="+447911123456", text="uk"), msg(to="+33612345678", text="fr")])
        assert await drain(sched, "any1") == ["fr"]  # the UK one waits for its group...
        clock.advance(31)
        sched._pools_at = -1e9
        assert await drain(sched, "any1") == ["uk"]  # ...until it has waited too long
        await sched.submit([msg(to="+447911000002", text="uk2")])
        sched._pools_at = -1e9
        assert await drain(sched, "uk1", group="uk") == ["uk2"]
        sched.modem_down("uk1")
        await sched.submit([msg(to="+447911000003", text="uk3")])
        sched._pools_at = -1e9
        assert await drain(sched, "any1") == ["uk3"]  # no UK SIM available: anyone may send
    finally:
        await sched.close()


async def test_strict_routing_never_falls_back(store: SqliteStore, clock: FakeClock) -> None:
    router = Router([Route(prefixes=("+44",), carrier=None, group="uk", fallback=False)])
    sched = Scheduler(store, SchedulerConfig(), router=router, clock=clock)
    try:
        await sched.submit([msg(text="uk")])
        clock.advance(3600)
        assert await drain(sched, "any1") == []
        assert await drain(sched, "uk1", group="uk") == ["uk"]
    finally:
        await sched.close()


async def test_on_net_preference(store: SqliteStore, clock: FakeClock) -> None:
    sched = Scheduler(store, SchedulerConfig(prefer_on_net=True), clock=clock)
    try:
        sched.modem_up(modem("jt", operator="JT (Jersey)"))
        await sched.submit([msg(to="+447911123456", text="jt", carrier="JT")])
        assert await drain(sched, "other", operator="EE") == []
        assert await drain(sched, "jt", operator="JT (Jersey)") == ["jt"]
    finally:
        await sched.close()


async def test_send_at_and_expiry(scheduler: Scheduler, store: SqliteStore,
                                  clock: FakeClock) -> None:
    later = clock.now.replace(hour=13)
    await scheduler.submit(
        [
            msg(text="later", send_at=later),
            msg(text="short-lived", expires_at=clock.now.replace(minute=5)),
        ]
    )
    clock.advance(600)  # 12:10: short-lived has expired, later is not due
    assert await drain(scheduler, "m1") == []
    housekeeping = await store.promote_due()
    assert housekeeping.next_due == later
    counts = await store.counts_by_status()
    assert counts == {"scheduled": 1, "expired": 1}
    clock.advance(3600)
    await store.promote_due()
    assert await drain(scheduler, "m1") == ["later"]


async def test_waiting_modem_is_woken_by_new_work(scheduler: Scheduler) -> None:
    waiting = asyncio.create_task(scheduler.next_job(modem("m1"), wait=30))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await scheduler.submit([msg(text="now")])
    job = await asyncio.wait_for(waiting, 5)
    assert job is not None and job.text == "now"


async def test_wait_times_out_with_none(scheduler: Scheduler) -> None:
    assert await scheduler.next_job(modem("m1"), wait=0.05) is None


async def test_stop_claiming_releases_waiters(scheduler: Scheduler) -> None:
    waiting = asyncio.create_task(scheduler.next_job(modem("m1"), wait=30))
    await asyncio.sleep(0.05)
    scheduler.stop_claiming()
    assert await asyncio.wait_for(waiting, 5) is None
    await scheduler.submit([msg()])
    assert await scheduler.next_job(modem("m1")) is None


async def test_housekeeping_task_promotes_due_messages(store: SqliteStore,
                                                       clock: FakeClock) -> None:
    sched = Scheduler(store, SchedulerConfig(tick_s=0.01), clock=clock)
    sched.start()
    try:
        await sched.submit([msg(text="soon", send_at=clock.now.replace(minute=1))])
        waiting = asyncio.create_task(sched.next_job(modem("m1"), wait=30))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        clock.advance(120)
        job = await asyncio.wait_for(waiting, 5)
        assert job is not None and job.text == "soon"
    finally:
        await sched.close()


@pytest.mark.parametrize("count", [3])
async def test_long_message_parts_stay_on_one_sim(scheduler: Scheduler, store: SqliteStore,
                                                  count: int) -> None:
    await scheduler.submit([msg(text="x" * 400, segments=count)])
    job = await scheduler.next_job(modem("m1"))
    assert job is not None and [p.seq for p in job.parts] == [1, 2, 3]
    await scheduler.part_sent(job, 1, 10)
    detail = await store.get_message(job.message_id)
    assert detail is not None and detail.message.status is MessageStatus.SENDING
    await scheduler.part_sent(job, 2, 11)
    await scheduler.part_sent(job, 3, 12)
    detail = await store.get_message(job.message_id)
    assert detail is not None and detail.message.status is MessageStatus.SENT
    assert {p.modem_id for p in detail.parts} == {"m1"}
    assert [p.mr for p in detail.parts] == [10, 11, 12]


async def test_cancelled_claim_gives_the_job_back(scheduler: Scheduler,
                                                  store: SqliteStore) -> None:
    [accepted] = await scheduler.submit([msg(text="only")])
    scheduler._pools, scheduler._pools_at = {""}, asyncio.get_running_loop().time()
    task = asyncio.create_task(scheduler.next_job(modem("m1")))
    await asyncio.sleep(0)  # next_job now waits for its claim's commit
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not isinstance(accepted, Exception)
    for _ in range(100):  # the claim still commits; its release is filed in the background
        detail = await store.get_message(accepted.message.id)
        assert detail is not None
        if len(detail.history) == 3:
            break
        await asyncio.sleep(0.01)
    assert detail is not None
    steps = [(t.to_status.value, t.detail) for t in detail.history]
    assert steps[1:] == [("sending", "attempt 1"), ("queued", "released before submit")]
    job = await scheduler.next_job(modem("m2"))
    assert job is not None and job.text == "only" and job.attempt == 1


async def test_store_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.config import load_config
    from gateway.store.factory import open_store

    monkeypatch.delenv("SMSGW_CONFIG", raising=False)
    settings = load_config(
        None, overrides={"store": {"path": str(tmp_path / "s.db")}}, use_default_file=False
    )
    opened = await open_store(settings)
    try:
        assert opened.path == tmp_path / "s.db"
        assert opened.options.sticky_ttl is not None
    finally:
        await opened.close()

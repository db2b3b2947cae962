"""Outcomes reported by workers: retries by error class, uncertain submits, status reports."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from drivers.errors import AtError, ErrorClass, SubmitOutcomeUnknown
from gateway.config import RetryConfig, SchedulerConfig
from gateway.retry import RetryPolicy, SendFailure, decide
from gateway.scheduler import Scheduler
from gateway.store import (
    Job,
    MessageStatus,
    PartStatus,
    Reachability,
    SqliteStore,
    UncertainPolicy,
)
from tests.gateway.gwhelpers import FakeClock, modem, msg


async def one_job(sched: Scheduler, name: str = "m1", **kwargs: Any) -> Job:
    job = await sched.next_job(modem(name), **kwargs)
    assert job is not None
    return job


async def status(store: SqliteStore, message_id: str) -> MessageStatus:
    detail = await store.get_message(message_id)
    assert detail is not None
    return detail.message.status


def test_decisions_by_class(clock: FakeClock) -> None:
    policy = RetryPolicy(max_attempts=4, jitter=0)
    now = clock.now
    temp = decide(SendFailure(ErrorClass.TEMPORARY, "congestion", "CMS 42"), 1, policy, now)
    assert temp.retry and not temp.exclude_modem and temp.retry_at == now + timedelta(seconds=5)
    later = decide(SendFailure(ErrorClass.TEMPORARY, "x"), 3, policy, now)
    assert later.retry_at == now + timedelta(seconds=20)  # 5 * 2^2
    sim = decide(SendFailure(ErrorClass.SIM, "barred", "CMS 8"), 1, policy, now)
    assert sim.retry and sim.exclude_modem and sim.take_sim_out and sim.retry_at == now
    modem_err = decide(SendFailure(ErrorClass.MODEM, "ME failure", "CMS 300"), 1, policy, now)
    assert modem_err.take_sim_out and modem_err.exclude_modem
    perm = decide(SendFailure(ErrorClass.PERMANENT, "unknown subscriber", "CMS 30"), 1, policy, now)
    assert not perm.retry and not perm.take_sim_out
    bug = decide(SendFailure(ErrorClass.BUG, "invalid PDU", "CMS 304"), 1, policy, now)
    assert not bug.retry and bug.loud
    spent = decide(SendFailure(ErrorClass.TEMPORARY, "x"), 4, policy, now)
    assert not spent.retry and "gave up after 4" in spent.reason
    bounded = decide(
        SendFailure(ErrorClass.TEMPORARY, "proto", "CMS 95", max_attempts=2), 2, policy, now
    )
    assert not bounded.retry  # "T once, then P" from the driver's table


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(
        backoff_initial=timedelta(seconds=5), backoff_max=timedelta(seconds=60), jitter=0
    )
    assert policy.backoff(10) == timedelta(seconds=60)


def test_failure_from_driver_exception() -> None:
    failure = SendFailure.from_exception(AtError("CMS", 42, "42", command="AT+CMGS"))
    assert failure.error_class is ErrorClass.TEMPORARY and failure.code == "CMS 42"
    unknown = SendFailure.from_exception(AtError("CMS", 96, "96"))
    assert unknown.max_attempts == 2


async def test_temporary_error_backs_off_then_retries_anywhere(
    scheduler: Scheduler, store: SqliteStore, clock: FakeClock
) -> None:
    await scheduler.submit([msg()])
    job = await one_job(scheduler)
    decision = await scheduler.failed(job, SendFailure(ErrorClass.TEMPORARY, "SC busy", "CMS 192"))
    assert decision.retry and not decision.take_sim_out
    assert await status(store, job.message_id) is MessageStatus.QUEUED
    assert await scheduler.next_job(modem("m1")) is None  # held for the backoff
    clock.advance(10)
    await store.promote_due()
    again = await one_job(scheduler, "m1")  # any SIM, the same one included
    assert again.message_id == job.message_id and again.attempt == 2
    detail = await store.get_message(job.message_id)
    assert detail is not None
    failed_step = [t for t in detail.history if t.error_code == "CMS 192"]
    assert failed_step and failed_step[0].error_class == "temporary"


async def test_sim_error_moves_to_another_sim_and_takes_this_out(
    scheduler: Scheduler, store: SqliteStore
) -> None:
    await scheduler.submit([msg()])
    scheduler.modem_up(modem("m2"))
    job = await one_job(scheduler, "m1")
    decision = await scheduler.failed(job, SendFailure(ErrorClass.SIM, "barred", "CMS 8"))
    assert decision.take_sim_out and "m1" not in scheduler.available
    assert await scheduler.next_job(modem("m1")) is None  # m1 may not have it back
    again = await one_job(scheduler, "m2")
    assert again.message_id == job.message_id


async def test_every_sim_failed_it_then_attempts_run_out(store: SqliteStore,
                                                         clock: FakeClock) -> None:
    config = SchedulerConfig(retry=RetryConfig(max_attempts=3))
    sched = Scheduler(store, config, clock=clock)
    try:
        await sched.submit([msg()])
        for name in ("m1", "m2", "m3"):
            job = await one_job(sched, name)
            await sched.failed(job, SendFailure(ErrorClass.MODEM, "hang", "CommandTimeout"))
        assert await status(store, job.message_id) is MessageStatus.FAILED
        detail = await store.get_message(job.message_id)
        assert detail is not None and detail.message.error is not None
        assert "gave up after 3" in (detail.message.error.detail or "")
    finally:
        await sched.close()


async def test_permanent_error_fails_and_learns_the_number(
    scheduler: Scheduler, store: SqliteStore
) -> None:
    await scheduler.submit([msg()])
    job = await one_job(scheduler)
    decision = await scheduler.failed(
        job, SendFailure(ErrorClass.PERMANENT, "unknown subscriber", "CMS 30")
    )
    assert not decision.retry
    detail = await store.get_message(job.message_id)
    assert detail is not None and detail.message.status is MessageStatus.FAILED
    assert detail.message.error is not None and detail.message.error.code == "CMS 30"
    assert all(p.status is PartStatus.FAILED for p in detail.parts)
    learned = await store.reachability(job.to)
    assert learned is not None and learned.state is Reachability.INVALID


async def test_bug_fails_loudly(scheduler: Scheduler, caplog: pytest.LogCaptureFixture) -> None:
    await scheduler.submit([msg()])
    job = await one_job(scheduler)
    await scheduler.failed(job, SendFailure(ErrorClass.BUG, "invalid PDU", "CMS 304"))
    assert any(r.levelname == "ERROR" and job.message_id in r.getMessage() for r in caplog.records)
    assert "+447911123456" not in caplog.text  # numbers are redacted


async def test_partial_send_resumes_on_the_same_sim(scheduler: Scheduler, store: SqliteStore,
                                                    clock: FakeClock) -> None:
    await scheduler.submit([msg(text="x" * 300, segments=2)])
    scheduler.modem_up(modem("m2"))
    job = await one_job(scheduler, "m1")
    await scheduler.part_sent(job, 1, 7)
    await scheduler.failed(job, SendFailure(ErrorClass.TEMPORARY, "collision", "CMS 512"))
    clock.advance(30)
    await store.promote_due()
    assert await scheduler.next_job(modem("m2")) is None  # part 1 went out through m1
    again = await one_job(scheduler, "m1")
    assert [p.seq for p in again.parts] == [2]


async def test_partial_send_on_a_lost_sim_resends_everything(scheduler: Scheduler,
                                                             store: SqliteStore) -> None:
    await scheduler.submit([msg(text="x" * 300, segments=2)])
    job = await one_job(scheduler, "m1")
    await scheduler.part_sent(job, 1, 7)
    await scheduler.failed(job, SendFailure(ErrorClass.MODEM, "port lost", "ConnectionLost"))
    again = await one_job(scheduler, "m2")
    assert [p.seq for p in again.parts] == [1, 2]
    detail = await store.get_message(job.message_id)
    assert detail is not None
    last = detail.history[-1].detail
    assert last is not None
    assert "resending all parts" in last


@pytest.mark.parametrize("policy", [UncertainPolicy.RESEND, UncertainPolicy.FAIL])
async def test_uncertain_submit_follows_the_policy(store: SqliteStore, clock: FakeClock,
                                                   policy: UncertainPolicy) -> None:
    sched = Scheduler(store, SchedulerConfig(uncertain_policy=policy), clock=clock)
    try:
        await sched.submit([msg()])
        job = await one_job(sched)
        exc = SubmitOutcomeUnknown("no +CMGS after Ctrl-Z")
        result = await sched.uncertain(job, str(exc))
        detail = await store.get_message(job.message_id)
        assert detail is not None and detail.message.uncertain
        if policy is UncertainPolicy.RESEND:
            assert result.status is MessageStatus.QUEUED
            assert (await one_job(sched, "m1")).message_id == job.message_id
        else:
            assert result.status is MessageStatus.FAILED
    finally:
        await sched.close()


async def test_release_does_not_count_an_attempt(scheduler: Scheduler,
                                                 store: SqliteStore) -> None:
    await scheduler.submit([msg()])
    job = await one_job(scheduler)
    await scheduler.release(job)
    again = await one_job(scheduler)
    assert again.attempt == 1
    detail = await store.get_message(job.message_id)
    assert detail is not None and detail.history[-2].detail == "released before submit"


# --- delivery reports ---------------------------------------------------------------------


async def test_report_matches_with_mr_wrap_and_recipient_forms(
    scheduler: Scheduler, store: SqliteStore, clock: FakeClock
) -> None:
    await scheduler.submit([msg()])
    job = await one_job(scheduler)
    await scheduler.part_sent(job, 1, 256 + 5)  # modems report 0-255; store it wrapped
    clock.advance(20)
    match = await scheduler.status_report("m1", 5, "07911123456", 0x00)
    assert match is not None and match.message_id == job.message_id and match.changed
    assert match.message_status is MessageStatus.DELIVERED
    learned = await store.reachability(job.to)
    assert learned is not None and learned.state is Reachability.REACHABLE


async def test_reused_mr_goes_to_the_most_recent_part(
    scheduler: Scheduler, store: SqliteStore, clock: FakeClock
) -> None:
    await scheduler.submit([msg(text="old")])
    old = await one_job(scheduler)
    await scheduler.part_sent(old, 1, 9)
    clock.advance(600)
    await scheduler.submit([msg(text="new")])
    new = await one_job(scheduler)
    await scheduler.part_sent(new, 1, 9)  # the MR came round again
    match = await scheduler.status_report("m1", 9, "+447911123456", 0)
    assert match is not None and match.message_id == new.message_id
    # Other modem, other recipient or outside the window: no match.
    assert await scheduler.status_report("m2", 9, "+447911123456", 0) is None
    assert await scheduler.status_report("m1", 9, "+447911999999", 0) is None
    clock.advance(5 * 24 * 3600)
    assert await scheduler.status_report("m1", 9, "+447911123456", 0) is None
    assert await status(store, old.message_id) is MessageStatus.SENT


async def test_temporary_report_keeps_sent_permanent_undelivers(
    scheduler: Scheduler, store: SqliteStore
) -> None:
    await scheduler.submit([msg(text="a" * 200, segments=2)])
    job = await one_job(scheduler)
    await scheduler.part_sent(job, 1, 1)
    await scheduler.part_sent(job, 2, 2)
    temp = await scheduler.status_report("m1", 1, "+447911123456", 0x21)
    assert temp is not None and temp.part_status is PartStatus.SENT and not temp.changed
    done = await scheduler.status_report("m1", 1, "+447911123456", 0x00)
    assert done is not None and done.message_status is MessageStatus.SENT  # part 2 pending
    bad = await scheduler.status_report("m1", 2, "+447911123456", 0x41)
    assert bad is not None and bad.message_status is MessageStatus.UNDELIVERED
    detail = await store.get_message(job.message_id)
    assert detail is not None and detail.message.error is not None
    assert detail.message.error.code == "TP-ST 0x41"


async def test_long_message_delivered_when_all_parts_are(scheduler: Scheduler,
                                                         store: SqliteStore) -> None:
    await scheduler.submit([msg(text="a" * 400, segments=3)])
    job = await one_job(scheduler)
    for seq in (1, 2, 3):
        await scheduler.part_sent(job, seq, 100 + seq)
    for seq, expected in (
        (3, MessageStatus.SENT),
        (1, MessageStatus.SENT),
        (2, MessageStatus.DELIVERED),
    ):
        match = await scheduler.status_report("m1", 100 + seq, "+447911123456", 0)
        assert match is not None and match.message_status is expected


async def test_report_that_overtakes_the_sent_record(scheduler: Scheduler,
                                                     store: SqliteStore) -> None:
    await scheduler.submit([msg()])
    job = await one_job(scheduler)
    early = await scheduler.status_report("m1", 77, "+447911123456", 0)
    assert early is None  # kept aside, not lost
    result = await scheduler.part_sent(job, 1, 77)
    assert result.status is MessageStatus.DELIVERED
    detail = await store.get_message(job.message_id)
    assert detail is not None
    assert [t.to_status for t in detail.history][-2:] == [
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
    ]

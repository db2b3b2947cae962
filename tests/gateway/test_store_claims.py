"""Claims under concurrency, and crash recovery of messages caught in `sending`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

from gateway.store import (
    ClaimRequest,
    Lane,
    MessageStatus,
    SqliteStore,
    StoreOptions,
    UncertainPolicy,
)
from tests.gateway.gwhelpers import FakeClock, StoreFactory, msg

ROOT = Path(__file__).resolve().parents[2]


def request(modem_id: str, clock: FakeClock, **kwargs: Any) -> ClaimRequest:
    return ClaimRequest(
        modem_id=modem_id,
        lanes=tuple(Lane),
        pools=("",),
        now=clock.now,
        day="2025-03-10",
        month="2025-03",
        **kwargs,
    )


async def test_concurrent_workers_never_share_a_message(store: SqliteStore,
                                                        clock: FakeClock) -> None:
    await store.enqueue_many([msg(text=f"m{i}", sender=f"s{i % 3}") for i in range(400)])
    claimed: dict[str, list[str]] = {}

    async def worker(name: str) -> None:
        mine = claimed.setdefault(name, [])
        while True:
            job = await store.claim(request(name, clock))
            if job is None:
                return
            mine.append(job.message_id)
            await store.part_sent(job, 1, len(mine))

    await asyncio.gather(*(worker(f"modem{i}") for i in range(8)))
    every = [m for ids in claimed.values() for m in ids]
    assert len(every) == 400 and len(set(every)) == 400
    assert sum(1 for ids in claimed.values() if ids) >= 2  # the work was actually shared
    counts = await store.counts_by_status()
    assert counts == {"sent": 400}


async def test_claim_commits_sending_with_the_modem(store: SqliteStore, db_path: Path,
                                                    clock: FakeClock) -> None:
    accepted = await store.enqueue(msg())
    job = await store.claim(request("m1", clock))
    assert job is not None and job.message_id == accepted.message.id and job.attempt == 1
    import sqlite3

    with sqlite3.connect(db_path) as conn:  # durable before the caller sends anything
        row = conn.execute("SELECT status, modem_id FROM messages").fetchone()
    assert row == ("sending", "m1")


async def test_stale_outcomes_are_refused(store: SqliteStore, clock: FakeClock) -> None:
    await store.enqueue(msg())
    job = await store.claim(request("m1", clock))
    assert job is not None
    await store.release(job)
    result = await store.part_sent(job, 1, 5)
    assert not result.accepted  # that attempt is over
    again = await store.claim(request("m2", clock))
    assert again is not None and again.attempt == 1  # a release does not count an attempt


_CRASHER = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import UTC, datetime
    from gateway.store import ClaimRequest, Lane, NewMessage, SqliteStore

    async def main() -> None:
        store = await SqliteStore.open(sys.argv[1])
        await store.enqueue_many(
            [NewMessage(to=f"+4479111234{i:02d}", text=f"m{i}", encoding="gsm7", segments=1)
             for i in range(10)]
        )
        for n in range(4):
            req = ClaimRequest(modem_id=f"m{n % 2}", lanes=tuple(Lane), pools=("",),
                               now=datetime.now(UTC))
            job = await store.claim(req)
            if n == 0:
                await store.part_sent(job, 1, 42)
        print("ready", flush=True)
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


async def _crash(db_path: Path) -> None:
    """Run a store in a child process, let it claim, then SIGKILL it mid-send."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CRASHER,
        str(db_path),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line.strip() == b"ready"
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.returncode is None:
            proc.kill()
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == -signal.SIGKILL


async def test_sigkill_mid_send_then_resend_policy(db_path: Path,
                                                   open_store: StoreFactory) -> None:
    await _crash(db_path)
    store = await open_store(options=StoreOptions(uncertain_policy=UncertainPolicy.RESEND))
    assert len(store.recovery.uncertain) == 3 and store.recovery.requeued == 3
    counts = await store.counts_by_status()
    assert counts == {"sent": 1, "queued": 9}  # none lost
    for message_id in store.recovery.uncertain:
        detail = await store.get_message(message_id)
        assert detail is not None
        assert detail.message.uncertain and detail.message.status is MessageStatus.QUEUED
        last = detail.history[-1]
        assert (last.from_status, last.to_status) == (MessageStatus.SENDING, MessageStatus.QUEUED)
        assert last.error_code == "UNCERTAIN" and "resend" in (last.detail or "")
    # A resend goes back to the SIM that may already have sent it, while that SIM is available.
    clock = FakeClock()
    job = await store.claim(
        ClaimRequest(
            modem_id="m9",
            lanes=tuple(Lane),
            pools=("",),
            now=clock.now,
            healthy_others=frozenset({"m0", "m1"}),
        )
    )
    assert job is not None and job.message_id not in store.recovery.uncertain


async def test_sigkill_mid_send_then_fail_policy(db_path: Path,
                                                 open_store: StoreFactory) -> None:
    await _crash(db_path)
    store = await open_store(options=StoreOptions(uncertain_policy=UncertainPolicy.FAIL))
    assert store.recovery.failed == 3
    counts = await store.counts_by_status()
    assert counts == {"sent": 1, "failed": 3, "queued": 6}
    detail = await store.get_message(store.recovery.uncertain[0])
    assert detail is not None and detail.message.uncertain
    assert detail.message.error is not None and detail.message.error.error_class == "uncertain"
    # Reopening again finds nothing new to recover: the policy ran once.
    await store.close()
    again = await open_store()
    assert again.recovery.uncertain == ()

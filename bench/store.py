"""Store and scheduler figures: durable throughput and memory with a deep queue.

1. ceiling: 8 workers at zero submit latency pull jobs through the real scheduler and report
   each part sent; every claim and every `sent` is committed with synchronous=FULL before the
   worker moves on. Target (issue 5): >= 1,500 messages/s from queued to `sent`.
2. acceptance: messages/s through `enqueue_many` (batches of 1,000, durable).
3. scale: a database with 1,000,000 queued messages, reopened in a fresh process (as a daemon
   restart): time from open to the first claimed job, then resident memory while 8 workers
   drain a slice of the queue. Target: RSS < 250 MB, restart to first submit < 5 s.

Environment: SMSGW_BENCH_MESSAGES (ceiling run, default 20000), SMSGW_BENCH_QUEUED (default
1000000), SMSGW_BENCH_DIR (where the databases go; default a temporary directory).
"""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gateway.config import SchedulerConfig
from gateway.scheduler import ModemInfo, Scheduler
from gateway.store import NewMessage, SqliteStore

WORKERS = 8
BATCH = 1000


def _message(i: int, sender: str = "bench") -> NewMessage:
    return NewMessage(
        to=f"+4479111{i % 100000:05d}",
        text=f"Your code is {i:06d}",
        encoding="gsm7",
        segments=1,
        sender=sender,
    )


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _fill(store: SqliteStore, count: int, senders: int = 4) -> float:
    started = time.perf_counter()
    for base in range(0, count, BATCH):
        batch = [_message(i, f"s{i % senders}") for i in range(base, min(base + BATCH, count))]
        await store.enqueue_many(batch)
    return count / (time.perf_counter() - started)


async def _drain(scheduler: Scheduler, limit: int | None = None) -> tuple[int, float]:
    done = 0
    started = time.perf_counter()

    async def worker(n: int) -> None:
        nonlocal done
        modem = ModemInfo(modem_id=f"modem{n}")
        mr = 0
        while limit is None or done < limit:
            job = await scheduler.next_job(modem)
            if job is None:
                return
            for part in job.parts:
                mr = (mr + 1) & 0xFF
                await scheduler.part_sent(job, part.seq, mr)
            done += 1

    await asyncio.gather(*(worker(n) for n in range(WORKERS)))
    return done, time.perf_counter() - started


async def _ceiling(directory: Path, count: int) -> None:
    store = await SqliteStore.open(directory / "ceiling.db")
    scheduler = Scheduler(store, SchedulerConfig())
    try:
        accept_rate = await _fill(store, count)
        commits_before = store.commits
        done, elapsed = await _drain(scheduler)
        counts = await store.counts_by_status()
        commits = store.commits - commits_before
    finally:
        await scheduler.close()
        await store.close()
    rate = done / elapsed
    print(f"acceptance: {accept_rate:,.0f} messages/s durable (enqueue_many, batches of {BATCH})")
    print(
        f"ceiling: {done:,} messages queued -> sent by {WORKERS} zero-latency workers in "
        f"{elapsed:.2f} s = {rate:,.0f} messages/s (target >= 1,500/s: "
        f"{'met' if rate >= 1500 else 'NOT met'})"
    )
    print(
        f"         {commits:,} durable commits (synchronous=FULL), "
        f"{2 * done / max(commits, 1):.1f} claims+outcomes per commit; final {counts}"
    )


_SCALE_CHILD = """
import asyncio, sys, time
sys.path.insert(0, sys.argv[2])
from bench.store import _scale_child
asyncio.run(_scale_child(sys.argv[1]))
"""


async def _scale_child(path: str) -> None:
    rss_before = _rss_mb()
    started = time.perf_counter()
    store = await SqliteStore.open(path)
    scheduler = Scheduler(store, SchedulerConfig())
    try:
        job = await scheduler.next_job(ModemInfo(modem_id="modem0"))
        first = time.perf_counter() - started
        assert job is not None
        await scheduler.part_sent(job, 1, 1)
        done, elapsed = await _drain(scheduler, limit=5000)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"restart_to_first_job_s={first:.3f}")
        print(f"drain_rate={done / elapsed:.0f}")
        print(f"rss_mb={_rss_mb():.1f} peak_rss_mb={peak:.1f} interpreter_mb={rss_before:.1f}")
    finally:
        await scheduler.close()
        await store.close()


async def _queue_up(path: Path, queued: int) -> tuple[float, float]:
    store = await SqliteStore.open(path)
    try:
        started = time.perf_counter()
        rate = await _fill(store, queued, senders=16)
        return time.perf_counter() - started, rate
    finally:
        await store.close()


def _scale(directory: Path, queued: int) -> None:
    path = directory / "scale.db"
    took, rate = asyncio.run(_queue_up(path, queued))
    print(
        f"scale: queued {queued:,} messages in {took:.0f} s ({rate:,.0f}/s); "
        f"db {path.stat().st_size / 2**20:,.0f} MB"
    )
    root = Path(__file__).resolve().parents[1]
    # A fresh process, as after a daemon restart: nothing of the fill is in its memory.
    out = subprocess.run(
        [sys.executable, "-c", _SCALE_CHILD, str(path), str(root)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    figures = dict(
        item.split("=") for line in out.splitlines() for item in line.split() if "=" in item
    )
    first = float(figures["restart_to_first_job_s"])
    rss = float(figures["rss_mb"])
    peak = float(figures["peak_rss_mb"])
    print(
        f"       restart -> first claimed job: {first:.2f} s (target < 5 s: "
        f"{'met' if first < 5 else 'NOT met'})"
    )
    print(
        f"       resident memory with {queued:,} queued while 8 workers drain: {rss:.0f} MB "
        f"(peak {peak:.0f} MB; target < 250 MB: {'met' if peak < 250 else 'NOT met'}); "
        f"drain {float(figures['drain_rate']):,.0f} messages/s"
    )


def main() -> None:
    count = int(os.environ.get("SMSGW_BENCH_MESSAGES", "20000"))
    queued = int(os.environ.get("SMSGW_BENCH_QUEUED", "1000000"))
    base = os.environ.get("SMSGW_BENCH_DIR")
    with tempfile.TemporaryDirectory(dir=base, prefix="smsgw-bench-") as tmp:
        asyncio.run(_ceiling(Path(tmp), count))
        if queued:
            _scale(Path(tmp), queued)


if __name__ == "__main__":
    main()

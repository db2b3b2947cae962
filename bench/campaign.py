"""Campaign figures: 100,000 recipients from a CSV upload validated (number, duplicates,
template fields, consent, opt-out, frequency caps, quiet hours) and queued in the `bulk` lane
through the one door (`Submitter` with the policy gate, the store's batch enqueue), with the
campaign's own pace written into `send_at`. Target (issue 9): under 30 s.

Prints the time, the rate, resident memory before and after, and the per-row report's counts.
Environment: SMSGW_BENCH_RECIPIENTS (default 100000), SMSGW_BENCH_DIR (default a temporary
directory).
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
import time
from pathlib import Path

from bench.store import _rss_mb
from gateway.config import SchedulerConfig
from gateway.messaging import Messaging, MessagingConfig
from gateway.messaging.campaigns import Window, parse_csv
from gateway.messaging.config import TemplateConfig
from gateway.numbers import NumberPolicy, NumberService
from gateway.scheduler import Scheduler
from gateway.store import Category, SqliteStore
from tests.messaging.msgrig import make_submitter


def _csv(count: int) -> str:
    out = io.StringIO()
    out.write("number,first_name,date\n")
    for i in range(count):
        number = f"+49151{10_000_000 + i:08d}" if i % 500 else "not-a-number"
        name = f"Name{i}" if i % 1000 != 1 else ""
        out.write(f"{number},{name},2025-04-{1 + i % 28:02d}\n")
    return out.getvalue()


async def _run(directory: Path, count: int) -> None:
    store = await SqliteStore.open(directory / "smsgw.db", readers=2)
    scheduler = Scheduler(store, SchedulerConfig())
    policy = NumberPolicy()
    config = MessagingConfig(templates=[TemplateConfig(
        name="promo", text="Hi {first_name}, your offer is ready on {date:%d %b}.",
        category=Category.MARKETING)])
    messaging = Messaging(store, config, numbers=policy, secret=b"b" * 32)
    submitter = make_submitter(scheduler, NumberService(policy, store), messaging)
    messaging.bind(submitter.submit)
    try:
        text = _csv(count)
        # marketing consent for every recipient (as a CSV import would record it)
        consent = "number,marketing\n" + "".join(
            f"+49151{10_000_000 + i:08d},granted\n" for i in range(count) if i % 700)
        started = time.perf_counter()
        await messaging.contacts.import_csv(consent)
        print(f"consent import: {count:,} contacts in {time.perf_counter() - started:.1f} s")
        rss_before = _rss_mb()
        started = time.perf_counter()
        rows = parse_csv(text)
        campaign, problems = await messaging.campaigns.create(
            name="bench", template=await messaging.template("promo"), recipients=rows,
            rate=50.0, window=Window.parse("09:00-20:00"))
        elapsed = time.perf_counter() - started
        kinds: dict[str, int] = {}
        for p in problems:
            kinds[p.problem] = kinds.get(p.problem, 0) + 1
        print(f"campaign: {count:,} recipients validated and queued in {elapsed:.1f} s "
              f"({count / elapsed:,.0f}/s) - target < 30 s")
        print(f"  accepted {campaign.accepted:,}, refused {campaign.refused:,}: {kinds}")
        print(f"  RSS {rss_before:.0f} MB before, {_rss_mb():.0f} MB after")
        depth = await store.queue_depth()
        print(f"  store queue depth by lane: { {k.value: v for k, v in depth.items()} }")
        started = time.perf_counter()
        progress = await messaging.campaigns.progress(campaign.id)
        print(f"  progress read in {time.perf_counter() - started:.2f} s: "
              f"{dict(progress.counts)}")
    finally:
        await messaging.close()
        await scheduler.close()
        await store.close()


def main() -> None:
    count = int(os.environ.get("SMSGW_BENCH_RECIPIENTS", "100000"))
    base = os.environ.get("SMSGW_BENCH_DIR")
    with tempfile.TemporaryDirectory(dir=base) as directory:
        asyncio.run(_run(Path(directory), count))


if __name__ == "__main__":
    main()

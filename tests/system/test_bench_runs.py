"""`make bench` keeps working: its scenarios run end to end at a tiny size.

No figure is asserted (timings belong to `make bench`, not to tests); what is checked is that
each scenario completes, reports, and that what the API accepted is in the store. A bench that
silently stops working (as `million` once did, when the daemon it spawned exited at once) is
caught here rather than by the next person who runs it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bench(name: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SMSGW_", "BENCH_"))}
    done = subprocess.run(
        [sys.executable, "-m", "bench", name], check=False, cwd=ROOT, env={**clean, **env},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_api_bench_accepts_durably() -> None:
    out = _bench("api", SMSGW_BENCH_API_POSTS="60", SMSGW_BENCH_API_CONCURRENCY="4",
                 SMSGW_BENCH_API_BATCHES="3", SMSGW_BENCH_API_BATCH="250",
                 SMSGW_BENCH_API_BATCH_CONCURRENCY="2")
    assert re.search(r"concurrency +4: +[\d,]+ posts/s", out), out
    assert re.search(r"concurrency +2: +[\d,]+ msg/s \(750 in ", out), out
    # 500 warm-up posts (at most `posts`: 60) + 60 posts + 2 warm-up batches + 3 batches
    assert "durable: 1370 messages in the store for 1370 accepted (all there)" in out, out


def test_million_bench_starts_the_daemon_on_a_full_queue() -> None:
    out = _bench("gateway", BENCH_GATEWAY="million", BENCH_GATEWAY_MILLION="2000")
    assert re.search(r"million: 2,000 queued .* start to first submit [\d.]+ s .*"
                     r"SIGTERM exit 0", out), out

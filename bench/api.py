"""HTTP API figures: single-message POST rate and latency, and batch messages per second.

The gateway runs in this process (uvloop, as `smsgw run` does; a real SQLite file with
synchronous=FULL, no modems so sending does not compete for the CPU); the load client is a
separate process with its own event loop and aiohttp connection pool. Every 202 counted is
checked afterwards against the store: accepted means committed.

1. single: POST /api/v1/messages at a fixed concurrency. Targets (issue 6): >= 2,000 posts/s,
   p99 < 20 ms.
2. batch: POST /api/v1/messages/batch, 1,000 messages per request. Target: >= 20,000 msg/s.

Environment: SMSGW_BENCH_API_POSTS (default 20000), SMSGW_BENCH_API_CONCURRENCY (default 32),
SMSGW_BENCH_API_BATCHES (default 100), SMSGW_BENCH_API_BATCH (default 1000).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _runner() -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """uvloop where it is installed, as `smsgw run` does."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run
    return uvloop.run


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the load client (child process) -----------------------------------------------------------


async def _client(url: str, key: str, mode: str, total: int, concurrency: int, batch: int
                  ) -> dict[str, Any]:
    import aiohttp

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    latencies: list[float] = []
    accepted = 0
    errors: dict[str, int] = {}
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal accepted
            for i in counter:
                if mode == "single":
                    path = "/api/v1/messages"
                    body = json.dumps({"to": f"+49151{i % 10_000_000:08d}",
                                       "text": f"Your code is {i % 1_000_000:06d}"}).encode()
                else:
                    path = "/api/v1/messages/batch"
                    items = [{"to": f"+49152{(i * batch + j) % 10_000_000:08d}",
                              "text": f"Batch {i} item {j}"} for j in range(batch)]
                    body = json.dumps({"messages": items}).encode()
                started = time.perf_counter()
                async with session.post(url + path, data=body, headers=headers) as response:
                    payload = await response.read()
                    status = response.status
                latencies.append(time.perf_counter() - started)
                if status != 202:
                    errors[str(status)] = errors.get(str(status), 0) + 1
                elif mode == "single":
                    accepted += 1
                else:
                    accepted += json.loads(payload)["accepted"]

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "latencies": latencies, "accepted": accepted, "errors": errors}


def client_main(argv: list[str]) -> int:
    url, key, mode, total, concurrency, batch = argv
    result = _runner()(_client(url, key, mode, int(total), int(concurrency), int(batch)))
    json.dump(result, sys.stdout)
    return 0


# --- the gateway side ---------------------------------------------------------------------------


async def _run_client(url: str, key: str, mode: str, total: int, concurrency: int, batch: int
                      ) -> dict[str, Any]:
    code = ("import sys; from bench.api import client_main;"
            " raise SystemExit(client_main(sys.argv[1:]))")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, url, key, mode, str(total), str(concurrency), str(batch),
        stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"load client failed ({process.returncode})")
    result: dict[str, Any] = json.loads(output)
    return result


async def _bench(directory: Path) -> None:
    from gateway.config import load_config
    from gateway.daemon import Gateway, RuntimeOptions
    from gateway.keys import Keyring, Scope, create_key
    from gateway.modem_status import PoolOptions, PortSpec
    from gateway.store.migrations import migrate

    posts = int(os.environ.get("SMSGW_BENCH_API_POSTS", "20000"))
    concurrency = int(os.environ.get("SMSGW_BENCH_API_CONCURRENCY", "32"))
    batches = int(os.environ.get("SMSGW_BENCH_API_BATCHES", "100"))
    batch = int(os.environ.get("SMSGW_BENCH_API_BATCH", "1000"))

    db = directory / "smsgw.db"
    conn = sqlite3.connect(db, isolation_level=None)
    migrate(conn)
    key = create_key(conn, Keyring.for_database(db), "bench", frozenset({Scope.ADMIN})).key
    conn.close()
    settings = load_config(overrides={
        "store": {"path": str(db)},
        "server": {"listen": f"127.0.0.1:{_free_port()}"},
        "api": {"rate_limit_per_second": 1e9},
    }, environ={}, use_default_file=False)
    options = RuntimeOptions(pool=PoolOptions.fast(), http=True)
    # no modems: the figures are about accepting, not sending
    gateway = await Gateway.open(settings, options,
                                 specs=[PortSpec(path=str(directory / "no-modem-*"))])
    try:
        url = gateway.http_url
        assert url is not None
        await _run_client(url, key, "single", min(posts, 500), concurrency, 1)  # warm-up
        cpu = _cpu()
        commits = gateway.store.commits
        single = await _run_client(url, key, "single", posts, concurrency, 1)
        single_cpu = (_cpu() - cpu) / max(single["accepted"], 1)
        single_commits = gateway.store.commits - commits
        lat = sorted(single["latencies"])
        print(f"single POST, concurrency {concurrency}: {single['accepted']} accepted in "
              f"{single['elapsed']:.2f} s = {single['accepted'] / single['elapsed']:,.0f} posts/s;"
              f" latency p50 {_percentile(lat, 0.5) * 1000:.1f} ms, "
              f"p99 {_percentile(lat, 0.99) * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms"
              + (f"; errors {single['errors']}" if single["errors"] else ""))
        print(f"  gateway CPU per accepted POST: {single_cpu * 1e6:.0f} us "
              f"(a bound independent of other load: {1 / single_cpu:,.0f} posts/s per core)")
        # every store write (messages, consent caps, webhooks) goes through the group commit:
        # posts per commit says whether concurrent posts share their fsync
        print(f"  group commit: {single_commits} commits for {single['accepted']} posts "
              f"({single['accepted'] / max(single_commits, 1):.1f} posts per commit)")
        cpu = _cpu()
        many = await _run_client(url, key, "batch", batches, 4, batch)
        many_cpu = (_cpu() - cpu) / max(many["accepted"], 1)
        lat = sorted(many["latencies"])
        print(f"batch POST, {batch} messages each, concurrency 4: {many['accepted']} accepted "
              f"in {many['elapsed']:.2f} s = {many['accepted'] / many['elapsed']:,.0f} msg/s; "
              f"per request p50 {_percentile(lat, 0.5) * 1000:.0f} ms, "
              f"p99 {_percentile(lat, 0.99) * 1000:.0f} ms"
              + (f"; errors {many['errors']}" if many["errors"] else ""))
        print(f"  gateway CPU per accepted batch message: {many_cpu * 1e6:.0f} us "
              f"({1 / many_cpu:,.0f} msg/s per core)")
        counts = await gateway.store.counts_by_status()
        stored = sum(counts.values())
        expected = single["accepted"] + many["accepted"] + min(posts, 500)
        print(f"durable: {stored} messages in the store for {expected} accepted "
              f"({'all there' if stored == expected else 'MISMATCH'})")
    finally:
        await gateway.close()


def main() -> None:
    runner = _runner()
    with tempfile.TemporaryDirectory(prefix="smsgw-bench-api-") as directory:
        runner(_bench(Path(directory)))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        raise SystemExit(client_main(sys.argv[2:]))
    main()

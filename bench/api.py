"""HTTP API figures: single-message POST rate and latency, and batch messages per second.

The gateway runs in this process (uvloop, as `smsgw run` does; a real SQLite file with
synchronous=FULL, no modems so sending does not compete for the CPU). The load client is a
separate process (`bench/_http_load.py`: keep-alive HTTP/1.1, one request in flight per
connection, a few tens of microseconds of CPU per request, like `wrk`), so on a small box it
takes as little as possible of the cores the gateway is measured on. Every 202 counted is
checked afterwards against the store: accepted means committed.

1. single: POST /api/v1/messages, each to a number not seen before (no look-up cache hit), at
   several fixed concurrencies: latency grows with concurrency at the same rate (Little's law),
   so the table shows where the p99 target holds. Targets (issue 6): >= 2,000 posts/s with
   p99 < 20 ms.
2. batch: POST /api/v1/messages/batch, 1,000 messages per request. Target: >= 20,000 msg/s.

CPU per message is printed beside each rate, split between the event loop and the store's
threads: it is the figure that does not depend on what else shares the machine.

Environment: SMSGW_BENCH_API_POSTS (per concurrency, default 15000),
SMSGW_BENCH_API_CONCURRENCY (a list, default 8,16,32,64), SMSGW_BENCH_API_BATCHES (default
100), SMSGW_BENCH_API_BATCH (default 1000), SMSGW_BENCH_API_BATCH_CONCURRENCY (a list,
default 2,4,8).
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
import threading
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _threads_cpu() -> dict[int, float]:
    """CPU seconds per thread of this process (Linux /proc), to tell the event loop's share
    from the store's threads'."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def _split(before: dict[int, float], after: dict[int, float], count: int) -> str:
    loop = threading.get_native_id()
    used = {tid: cpu - before.get(tid, 0.0) for tid, cpu in after.items()}
    main = used.pop(loop, 0.0)
    return (f"event loop {main / count * 1e6:.0f} us, "
            f"store threads {sum(used.values()) / count * 1e6:.0f} us")


# --- the load client (child process) -----------------------------------------------------------


async def _client(url: str, key: str, mode: str, total: int, concurrency: int, batch: int,
                  start: int) -> dict[str, Any]:
    from bench import _http_load

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def single(i: int) -> tuple[str, bytes]:
        i += start  # every run its own numbers: no look-up is answered from the cache
        return "/api/v1/messages", json.dumps({
            "to": f"+49151{i % 10_000_000:08d}", "text": f"Your code is {i % 1_000_000:06d}",
        }).encode()

    def many(i: int) -> tuple[str, bytes]:
        items = [{"to": f"+49152{(start + i * batch + j) % 10_000_000:08d}",
                  "text": f"Batch {i} item {j}"} for j in range(batch)]
        return "/api/v1/messages/batch", json.dumps({"messages": items}).encode()

    # every request body is made before the clock starts, as wrk's are: the client's CPU
    # during the run is then only the HTTP exchange, and the gateway gets the cores
    made = [(single if mode == "single" else many)(i) for i in range(total)]
    result = await _http_load.run(url, headers, made.__getitem__, total, concurrency,
                                  keep_bodies=mode != "single")
    accepted = result.statuses.get(202, 0) if mode == "single" else \
        sum(json.loads(body)["accepted"] for body in result.bodies)
    errors = {str(k): v for k, v in result.statuses.items() if k != 202}
    return {"elapsed": result.elapsed, "latencies": result.latencies, "accepted": accepted,
            "errors": errors}


def client_main(argv: list[str]) -> int:
    url, key, mode, total, concurrency, batch, start = argv
    result = _runner()(_client(url, key, mode, int(total), int(concurrency), int(batch),
                               int(start)))
    json.dump(result, sys.stdout)
    return 0


# --- the gateway side ---------------------------------------------------------------------------


async def _run_client(url: str, key: str, mode: str, total: int, concurrency: int, batch: int,
                      start: int = 0) -> dict[str, Any]:
    code = ("import sys; from bench.api import client_main;"
            " raise SystemExit(client_main(sys.argv[1:]))")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, url, key, mode, str(total), str(concurrency), str(batch),
        str(start),
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
    from gateway.lookup_pool import LookupPool
    from gateway.modem_status import PoolOptions, PortSpec
    from gateway.store.migrations import migrate

    posts = int(os.environ.get("SMSGW_BENCH_API_POSTS", "15000"))
    levels = [int(c) for c in os.environ.get("SMSGW_BENCH_API_CONCURRENCY", "8,16,32,64"
                                             ).split(",")]
    batches = int(os.environ.get("SMSGW_BENCH_API_BATCHES", "100"))
    batch = int(os.environ.get("SMSGW_BENCH_API_BATCH", "1000"))
    batch_levels = [int(c) for c in os.environ.get("SMSGW_BENCH_API_BATCH_CONCURRENCY", "2,4,8"
                                                   ).split(",")]

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
    from gateway import heap
    heap.settle()  # as `smsgw run` does once the gateway is up
    try:
        url = gateway.http_url
        assert url is not None
        warm = min(posts, 500)
        await _run_client(url, key, "single", warm, levels[0], 1, 9_000_000)
        expected = warm
        print("single POST /api/v1/messages, each a new number, durable before the answer:")
        for n, concurrency in enumerate(levels):
            cpu, threads, client = _cpu(), _threads_cpu(), _children_cpu()
            commits = gateway.store.commits
            single = await _run_client(url, key, "single", posts, concurrency, 1, n * posts)
            expected += single["accepted"]
            count = max(single["accepted"], 1)
            single_cpu = (_cpu() - cpu) / count
            split = _split(threads, _threads_cpu(), count)
            client = (_children_cpu() - client) / count
            single_commits = gateway.store.commits - commits
            lat = sorted(single["latencies"])
            print(f"  concurrency {concurrency:3d}: {single['accepted'] / single['elapsed']:6,.0f}"
                  f" posts/s, latency p50 {_percentile(lat, 0.5) * 1000:5.1f} ms, "
                  f"p99 {_percentile(lat, 0.99) * 1000:5.1f} ms, max {lat[-1] * 1000:5.1f} ms;"
                  f" {single['accepted'] / max(single_commits, 1):4.1f} posts per commit"
                  + (f"; errors {single['errors']}" if single["errors"] else ""))
            # CPU per POST: the gateway's bound independent of the load client beside it
            print(f"{'':18}gateway CPU {single_cpu * 1e6:.0f} us per POST ({split}); "
                  f"load client {client * 1e6:.0f} us")
        # a running gateway has seen batches: its number look-up children are up
        warm_batches = await _run_client(url, key, "batch", 2, 1, batch, 8_000_000)
        expected += warm_batches["accepted"]
        workers = gateway.numbers.workers
        if isinstance(workers, LookupPool):
            await workers.wait_ready()
        print(f"batch POST /api/v1/messages/batch, {batch} new numbers per request:")
        for n, concurrency in enumerate(batch_levels):
            cpu, threads = _cpu(), _threads_cpu()
            many = await _run_client(url, key, "batch", batches, concurrency, batch,
                                     n * batches * batch)
            count = max(many["accepted"], 1)
            many_cpu = (_cpu() - cpu) / count
            split = _split(threads, _threads_cpu(), count)
            lat = sorted(many["latencies"])
            expected += many["accepted"]
            rate = many["accepted"] / many["elapsed"]
            print(f"  concurrency {concurrency:3d}: {rate:7,.0f} msg/s"
                  f" ({many['accepted']} in {many['elapsed']:.2f} s); per request p50 "
                  f"{_percentile(lat, 0.5) * 1000:.0f} ms, p99 {_percentile(lat, 0.99) * 1000:.0f}"
                  f" ms" + (f"; errors {many['errors']}" if many["errors"] else ""))
            print(f"{'':18}gateway CPU {many_cpu * 1e6:.0f} us per message ({split})")
        counts = await gateway.store.counts_by_status()
        stored = sum(counts.values())
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

"""Keeping the cyclic garbage collector out of the API's tail latency.

After start-up the process holds a few hundred thousand long-lived objects (libphonenumber's
metadata, pydantic's validators, aiohttp's routes, the modem dialects). Each full collection
walks all of them: measured under API load, a gen-2 pass took up to 77 ms, which was the whole
p99. `settle` moves everything alive once the gateway is up into the permanent generation, which
the collector never scans (CPython's `gc.freeze`, as large Python services do after start-up),
and collects the young generation far less often: a request allocates many short-lived objects,
nearly all freed by reference counting.

The young threshold counts tracked objects alive beyond those freed, so what sets it is the
data of the requests in flight: eight batches of 1,000 messages held up to 95,000 objects until
they are answered. At 20,000 the collector kept scanning those live objects (and promoting
them, to scan them again in the middle generation): 0.8 s of a 6 s batch run, a fifth of the
event loop's time. At 100,000 it ran a few times at most in such a run; it still runs when garbage
cycles pile up, which bounds them to some tens of megabytes.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 100_000  # net allocations between young collections (CPython's default: 700)


def settle() -> int:
    """Freeze the start-up heap; returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    return gc.get_freeze_count()


__all__ = ["YOUNG_THRESHOLD", "settle"]

"""Number look-ups in child processes (`gateway.lookup_pool`, `gateway.lookup_worker`): real
children over real pipes. The children answer exactly what `gateway.numbers.lookup` answers
in-process; a child that dies, hangs or garbles costs no answer (the caller is told to look up
inline) and is replaced."""

from __future__ import annotations

import asyncio
import contextlib
import io
import marshal
import os
import signal
from collections.abc import AsyncIterator

import pytest

from gateway import lookup_worker
from gateway.lookup_pool import LookupPool, auto_count
from gateway.numbers import NumberPolicy, lookup
from gateway.store.models import LearnedReachability, Reachability
from gateway.store.rows import from_ms

# every kind of answer: mobile, fixed line, invalid, impossible, short codes, garbage, blanks
NUMBERS = [
    "+447911123456", "+4915201234567", "+16502530000", "+442071838750", "+33612345678",
    "+447700900123", "+4412", "+999123456789", "12345", "0044 7911 123456", "07911 123456",
    "not a number", "", "   ", "+", "+49 (0)152 0123 4567", "1234567890123456789012",
]
POLICIES = [
    NumberPolicy(),
    NumberPolicy(default_region="GB", allow_short_codes=True),
    NumberPolicy(default_region="DE", allow_fixed_line=True),
]


@pytest.fixture
async def pool() -> AsyncIterator[LookupPool]:
    lookups = LookupPool(1, min_batch=1, respawn_after=0.0, deadline_base=1.0)
    await lookups.start()
    assert await lookups.wait_ready()
    try:
        yield lookups
    finally:
        await lookups.close()


async def answered(lookups: LookupPool, numbers: list[str], policy: NumberPolicy,
                   within: float = 30.0) -> list[object]:
    """Ask until a (replacement) child answers."""
    async with asyncio.timeout(within):
        while True:
            found = await lookups.lookup(numbers, policy)
            if found is not None:
                return list(found)
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("policy", POLICIES)
async def test_children_answer_what_the_gateway_would(pool: LookupPool,
                                                      policy: NumberPolicy) -> None:
    found = await pool.lookup(NUMBERS, policy)
    assert found == [lookup(number, policy) for number in NUMBERS]


async def test_a_batch_is_shared_between_children_and_kept_in_order() -> None:
    lookups = LookupPool(2, min_batch=1)
    await lookups.start()
    try:
        assert await lookups.wait_ready()
        assert len(set(lookups.pids())) == 2
        numbers = [f"+49152{i:08d}" for i in range(301)]
        found = await lookups.lookup(numbers, NumberPolicy())
        assert found is not None
        assert [f.e164 for f in found] == numbers
    finally:
        await lookups.close()
    assert lookups.pids() == []


async def test_small_batches_stay_in_process() -> None:
    lookups = LookupPool(1, min_batch=200)
    await lookups.start()
    try:
        assert await lookups.wait_ready()
        assert await lookups.lookup(NUMBERS, NumberPolicy()) is None
    finally:
        await lookups.close()


async def test_a_child_that_dies_is_replaced(pool: LookupPool) -> None:
    (first,) = pool.pids()
    os.kill(first, signal.SIGKILL)
    policy = NumberPolicy()
    found = await answered(pool, NUMBERS, policy)
    assert found == [lookup(number, policy) for number in NUMBERS]
    (second,) = pool.pids()
    assert second != first


async def test_a_hung_child_misses_its_deadline_and_is_replaced(pool: LookupPool) -> None:
    (first,) = pool.pids()
    os.kill(first, signal.SIGSTOP)
    try:
        assert await pool.lookup(NUMBERS, NumberPolicy()) is None  # the 1 s deadline passed
    finally:
        with contextlib.suppress(ProcessLookupError):  # killed and reaped by then
            os.kill(first, signal.SIGCONT)
    found = await answered(pool, NUMBERS, NumberPolicy())
    assert len(found) == len(NUMBERS)
    assert pool.pids() != [first]


async def test_a_caller_that_goes_away_does_not_confuse_the_next(pool: LookupPool) -> None:
    policy = NumberPolicy()
    numbers = [f"+44791112{i:04d}" for i in range(2000)]
    first = asyncio.ensure_future(pool.lookup(numbers, policy))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    found = await pool.lookup(NUMBERS, policy)  # answers come back in order regardless
    assert found == [lookup(number, policy) for number in NUMBERS]


def test_rows_round_trip_every_field() -> None:
    learned = LearnedReachability("+447911123456", Reachability.ABSENT, "absent subscriber",
                                  from_ms(0), None)
    for one in [lookup(n, p) for n in NUMBERS for p in POLICIES] + [
            lookup("+447911123456", NumberPolicy(), learned)]:
        row = marshal.loads(marshal.dumps(lookup_worker.lookup_row(one)))
        assert lookup_worker.row_lookup(row) == one
    with pytest.raises(ValueError):
        lookup_worker.row_lookup(("too", "short"))


def test_the_child_says_hello_answers_and_stops_at_end_of_input() -> None:
    request = lookup_worker.frame((["+447911123456", "junk"], (None, False, False)))
    out = io.BytesIO()
    assert lookup_worker.serve(io.BytesIO(request), out) == 0
    data = io.BytesIO(out.getvalue())
    frames = []
    while header := data.read(lookup_worker.HEADER.size):
        (size,) = lookup_worker.HEADER.unpack(header)
        frames.append(marshal.loads(data.read(size)))
    assert frames[0] == (lookup_worker.HELLO, os.getpid())
    assert [lookup_worker.row_lookup(r) for r in frames[1]] == [
        lookup("+447911123456", NumberPolicy()), lookup("junk", NumberPolicy())]


def test_the_child_refuses_a_garbled_request() -> None:
    garbled = lookup_worker.HEADER.pack(3) + b"\xff\xfe\xfd"
    assert lookup_worker.serve(io.BytesIO(garbled), io.BytesIO()) == 2
    huge = lookup_worker.HEADER.pack(lookup_worker.MAX_FRAME + 1)
    assert lookup_worker.serve(io.BytesIO(huge), io.BytesIO()) == 2


def test_one_child_per_spare_cpu() -> None:
    assert [auto_count(n) for n in (1, 2, 3, 4, 64)] == [0, 1, 2, 2, 2]


async def test_children_start_with_the_first_big_batch() -> None:
    lookups = LookupPool(1, min_batch=3)
    try:
        assert await lookups.lookup(["+447911123456"], NumberPolicy()) is None  # too small
        assert lookups.pids() == []  # ... so nothing was spawned for it
        found = await answered(lookups, NUMBERS, NumberPolicy())  # inline until one is ready
        assert found == [lookup(number, NumberPolicy()) for number in NUMBERS]
        assert len(lookups.pids()) == 1
    finally:
        await lookups.close()
    assert lookups.pids() == []


async def test_no_children_means_always_inline() -> None:
    lookups = LookupPool(0, min_batch=1)
    assert await lookups.lookup(NUMBERS, NumberPolicy()) is None
    await lookups.close()

"""`Coalescer`: calls made in one loop turn share one call of the batched function, each caller
gets exactly its own slice, errors reach everyone who joined, and a cancelled leader never
strands the callers that joined it nor makes them run twice."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

import pytest

from gateway.submit import Coalescer


class Recorder:
    def __init__(self, *, fail: bool = False, gate: asyncio.Event | None = None) -> None:
        self.calls: list[list[int]] = []
        self.fail = fail
        self.gate = gate

    async def __call__(self, items: Sequence[int]) -> list[int]:
        self.calls.append(list(items))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise LookupError("store unavailable")
        return [item * 10 for item in items]


async def test_calls_in_one_turn_share_one_batch_and_get_their_own_slices() -> None:
    fn = Recorder()
    coalesce: Coalescer[int, int] = Coalescer(fn)
    # gather returns a list at run time; typeshed types a fixed-arity call as a tuple
    answers = cast(list[list[int]],
                   await asyncio.gather(coalesce([1, 2]), coalesce([3]), coalesce([4, 5, 6])))
    assert answers == [[10, 20], [30], [40, 50, 60]]
    assert fn.calls == [[1, 2, 3, 4, 5, 6]]


async def test_a_lone_call_runs_its_own_items() -> None:
    fn = Recorder()
    coalesce: Coalescer[int, int] = Coalescer(fn)
    assert await coalesce([7]) == [70]
    assert await coalesce([8, 9]) == [80, 90]
    assert fn.calls == [[7], [8, 9]]


async def test_an_error_reaches_every_caller_that_joined() -> None:
    coalesce: Coalescer[int, int] = Coalescer(Recorder(fail=True))
    results = await asyncio.gather(coalesce([1]), coalesce([2]), return_exceptions=True)
    assert [type(r) for r in results] == [LookupError, LookupError]


async def test_a_leader_cancelled_mid_call_leaves_the_shared_call_running() -> None:
    """The shared call may already have committed everyone's messages: the callers that
    joined get its answer, and nothing runs twice."""
    gate = asyncio.Event()
    fn = Recorder(gate=gate)
    coalesce: Coalescer[int, int] = Coalescer(fn)
    leader = asyncio.create_task(coalesce([1]))
    follower = asyncio.create_task(coalesce([2, 3]))
    while not fn.calls:  # the leader is inside the shared call, the follower has joined it
        await asyncio.sleep(0)
    assert fn.calls == [[1, 2, 3]]
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    gate.set()
    assert await asyncio.wait_for(follower, 5) == [20, 30]
    assert fn.calls == [[1, 2, 3]]


async def test_a_leader_cancelled_while_gathering_releases_the_callers_that_joined() -> None:
    fn = Recorder()
    coalesce: Coalescer[int, int] = Coalescer(fn)
    leader = asyncio.create_task(coalesce([1]))
    follower = asyncio.create_task(coalesce([2, 3]))
    await asyncio.sleep(0)  # the leader waits for company; the follower has joined
    assert fn.calls == []
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert await asyncio.wait_for(follower, 5) == [20, 30]
    assert fn.calls == [[2, 3]]  # without the leader's items

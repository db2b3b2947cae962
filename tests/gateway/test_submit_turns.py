"""`Submitter`: submits made in the same loop turn run as one (one look-up pass, one store
unit), and one caller's bad message never fails the others that shared its turn."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gateway.config import SchedulerConfig
from gateway.numbers import NumberPolicy, NumberService
from gateway.scheduler import Scheduler
from gateway.store import SqliteStore
from gateway.store.models import Enqueued, NewMessage
from gateway.submit import OutgoingMessage, Refused, Submitter


class CountingScheduler(Scheduler):
    """The real scheduler, counting the store units it is asked for."""

    def __init__(self, store: SqliteStore, *, poison: str | None = None) -> None:
        super().__init__(store, SchedulerConfig())
        self.units: list[int] = []
        self.poison = poison

    async def submit(self, messages: Sequence[NewMessage], *, routed: bool = False
                     ) -> list[Enqueued | Exception]:
        self.units.append(len(messages))
        if self.poison is not None and any(m.text == self.poison for m in messages):
            raise RuntimeError("an SQL error for this message")  # a bug, not a refusal
        return await super().submit(messages, routed=routed)


def one(i: int, text: str | None = None) -> list[OutgoingMessage]:
    return [OutgoingMessage(to=f"+4915112345{i:03d}", text=text or f"hello {i}")]


async def test_submits_in_one_turn_share_one_store_unit(store: SqliteStore) -> None:
    scheduler = CountingScheduler(store)
    submitter = Submitter(scheduler, NumberService(NumberPolicy(), store))
    try:
        results = await asyncio.gather(*(submitter.submit(one(i)) for i in range(20)))
        assert all(isinstance(r, Enqueued) and r.created for (r,) in results)
        assert scheduler.units == [20]
        ids = {r.message.id for (r,) in results if isinstance(r, Enqueued)}
        assert len(ids) == 20  # each caller got its own message
        assert sum((await store.counts_by_status()).values()) == 20
    finally:
        await scheduler.close()


async def test_a_bad_message_fails_only_its_own_caller(store: SqliteStore) -> None:
    scheduler = CountingScheduler(store, poison="boom")
    submitter = Submitter(scheduler, NumberService(NumberPolicy(), store))
    try:
        calls = [submitter.submit(one(i, "boom" if i == 3 else None)) for i in range(6)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(results[3], RuntimeError)
        good = [r for i, r in enumerate(results) if i != 3]
        assert all(isinstance(r, list) and isinstance(r[0], Enqueued) for r in good)
        assert scheduler.units[0] == 6  # the shared unit failed, then one unit each
        assert sorted(scheduler.units[1:]) == [1] * 6
        assert sum((await store.counts_by_status()).values()) == 5
    finally:
        await scheduler.close()


async def test_a_text_no_sms_can_carry_is_refused_alone(store: SqliteStore) -> None:
    scheduler = CountingScheduler(store)
    submitter = Submitter(scheduler, NumberService(NumberPolicy(), store))
    try:
        bad, good = await asyncio.gather(submitter.submit(one(1, "lone \ud800 surrogate")),
                                         submitter.submit(one(2)))
        assert isinstance(bad[0], Refused) and bad[0].code == "invalid"
        assert isinstance(good[0], Enqueued)
    finally:
        await scheduler.close()

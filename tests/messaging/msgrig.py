"""The messaging test rig: a real SQLite store in tmp_path, the scheduler, the one door
(`Submitter`) with the policy gate in front of the commit, and `Messaging` bound to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.config import SchedulerConfig
from gateway.messaging import Messaging, MessagingConfig
from gateway.numbers import NumberPolicy, NumberService
from gateway.scheduler import Scheduler
from gateway.store import SqliteStore
from gateway.store.models import InboundPart
from gateway.submit import OutgoingMessage, SubmitResult, Submitter
from tests.gateway.gwhelpers import FakeClock


def make_submitter(scheduler: Scheduler, numbers: NumberService, messaging: Messaging,
                   max_segments: int = 10) -> Submitter:
    return Submitter(scheduler, numbers, max_segments=max_segments, policy=messaging.policy)


class MessagingRig:
    def __init__(self, tmp: Path, clock: FakeClock) -> None:
        self.tmp = tmp
        self.clock = clock
        self.store: SqliteStore | None = None
        self.scheduler: Scheduler | None = None
        self.messaging: Messaging | None = None
        self.submitter: Submitter | None = None

    async def start(self, config: MessagingConfig | None = None, **fields: Any
                    ) -> MessagingRig:
        self.store = await SqliteStore.open(self.tmp / "smsgw.db", clock=self.clock)
        self.scheduler = Scheduler(self.store, SchedulerConfig(), clock=self.clock)
        policy = NumberPolicy()
        numbers = NumberService(policy, self.store)
        cfg = config or MessagingConfig(**fields)
        self.messaging = Messaging(self.store, cfg, numbers=policy, secret=b"s" * 32,
                                   clock=self.clock)
        self.submitter = make_submitter(self.scheduler, numbers, self.messaging)
        self.messaging.bind(self.submitter.submit)
        return self

    @property
    def m(self) -> Messaging:
        assert self.messaging is not None
        return self.messaging

    @property
    def s(self) -> SqliteStore:
        assert self.store is not None
        return self.store

    async def send(self, to: str, text: str, **kwargs: Any) -> SubmitResult:
        assert self.submitter is not None
        (result,) = await self.submitter.submit([OutgoingMessage(to=to, text=text, **kwargs)])
        return result

    async def receive(self, sender: str, text: str, modem: str = "modem0") -> None:
        """A message arrives on a SIM; the processor handles it."""
        await self.s.store_inbound(InboundPart(
            modem_id=modem, sender=sender, text=text, encoding="gsm7",
            smsc_timestamp=self.clock(), received_at=self.clock()))
        self.clock.advance(1)  # distinct SMSC timestamps: never deduplicated as a re-read
        await self.m.processor.step()

    async def close(self) -> None:
        if self.messaging is not None:
            await self.messaging.close()
        if self.scheduler is not None:
            await self.scheduler.close()
        if self.store is not None:
            await self.store.close()

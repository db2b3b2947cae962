"""The end-to-end rig: a simulated modem pool on real ptys and a gateway that opens them by
path.

The gateway runs its production code path (pyserial on the pty symlinks, the SQLite store in a
temporary directory, the scheduler, supervisors, workers and inbound handlers); only the
timings are shortened, through the same options a deployment would set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar, overload

import pytest

from gateway.config import Settings, load_config
from gateway.daemon import Gateway, RuntimeOptions
from gateway.modem_status import PoolOptions, PortSpec, SupervisorState
from gateway.store.models import MessageDetail, MessageStatus
from gateway.submit import OutgoingMessage, Refused
from sim.pool import SimPool

T = TypeVar("T")

FINAL = frozenset({
    MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED,
    MessageStatus.CANCELED, MessageStatus.EXPIRED,
})


def e2e_settings(db: Path, **sections: dict[str, Any]) -> Settings:
    """Short timings for a suite that must run in seconds; everything else as deployed."""
    overrides: dict[str, Any] = {
        "store": {"path": str(db)},
        "scheduler": {
            "tick_s": 0.1,
            "retry": {"backoff_initial_s": 0.2, "backoff_max_s": 1.0, "jitter": 0.0},
        },
        "inbound": {"reassembly_timeout_s": 1.5},
    }
    for name, values in sections.items():
        merged = dict(overrides.get(name, {}))
        merged.update(values)
        overrides[name] = merged
    return load_config(overrides=overrides, environ={}, use_default_file=False)


@overload
async def eventually(
    probe: Callable[[], Coroutine[Any, Any, T | None]],
    *,
    within: float = ...,
    every: float = ...,
    what: str = ...,
) -> T: ...
@overload
async def eventually(
    probe: Callable[[], T | None],
    *,
    within: float = ...,
    every: float = ...,
    what: str = ...,
) -> T: ...
async def eventually(
    probe: Callable[[], Coroutine[Any, Any, T | None]] | Callable[[], T | None],
    *,
    within: float = 10.0,
    every: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll until `probe` returns something truthy; fail the test after `within` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    last: Any = None
    while True:
        result = probe()
        if asyncio.iscoroutine(result):
            result = await result
        last = result
        if result:
            return result
        if loop.time() >= end:
            pytest.fail(f"timed out after {within:g} s waiting for {what} (last: {last!r})")
        await asyncio.sleep(every)


class Rig:
    """A SimPool plus a Gateway wired to its ptys. Start with `await rig.start(...)`."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.sim_dir = tmp_path / "sim"
        self.db = tmp_path / "smsgw.db"
        self._sim: SimPool | None = None
        self._gw: Gateway | None = None
        self.options = RuntimeOptions(pool=PoolOptions.fast(), http=False, shutdown_grace=3.0)

    @property
    def sim(self) -> SimPool:
        assert self._sim is not None, "start the rig first"
        return self._sim

    @property
    def gw(self) -> Gateway:
        assert self._gw is not None, "start the gateway first"
        return self._gw

    async def start_sim(self, n: int = 3, **kwargs: Any) -> SimPool:
        kwargs.setdefault("report_delay", 0.2)
        kwargs.setdefault("boot_time", 0.2)
        kwargs.setdefault("vendor_urc_interval", 0.0)
        self._sim = SimPool(n, self.sim_dir, **kwargs)
        await self._sim.start()
        return self._sim

    async def start_gateway(
        self,
        *,
        specs: Sequence[PortSpec] | None = None,
        settings: Settings | None = None,
        options: RuntimeOptions | None = None,
        ready: int | None = None,
        **sections: dict[str, Any],
    ) -> Gateway:
        if specs is None:
            specs = [PortSpec(path=p, name=Path(p).name) for p in self.sim.paths]
        self._gw = await Gateway.open(
            settings or e2e_settings(self.db, **sections), options or self.options, specs=specs
        )
        if ready is None:
            ready = len(specs) if all(not s.is_glob for s in specs) else 0
        if ready:
            await self.wait_ready(ready)
        return self._gw

    async def start(self, n: int = 3, **sim_kwargs: Any) -> Rig:
        await self.start_sim(n, **sim_kwargs)
        await self.start_gateway()
        return self

    async def stop_gateway(self) -> None:
        gw, self._gw = self._gw, None
        if gw is not None:
            await gw.close()

    async def close(self) -> None:
        await self.stop_gateway()
        sim, self._sim = self._sim, None
        if sim is not None:
            await sim.close()

    # --- helpers -------------------------------------------------------------------------------

    async def wait_ready(self, count: int, within: float = 15.0) -> list[str]:
        return await eventually(
            lambda: sorted(self.gw.pool.ready) if len(self.gw.pool.ready) >= count else None,
            within=within, what=f"{count} ready modem(s)",
        )

    def state_of(self, modem_id: str) -> SupervisorState | None:
        for status in self.gw.pool.statuses():
            if status.modem_id == modem_id:
                return status.state
        return None

    async def send(self, to: str, text: str, **kwargs: Any) -> str:
        (result,) = await self.gw.submit([OutgoingMessage(to=to, text=text, **kwargs)])
        assert not isinstance(result, Refused), result
        return result.message.id

    async def send_many(self, items: Sequence[tuple[str, str]]) -> list[str]:
        results = await self.gw.submit([OutgoingMessage(to=to, text=text) for to, text in items])
        ids = []
        for result in results:
            assert not isinstance(result, Refused), result
            ids.append(result.message.id)
        return ids

    async def detail(self, message_id: str) -> MessageDetail:
        detail = await self.gw.store.get_message(message_id)
        assert detail is not None
        return detail

    async def wait_status(
        self, message_ids: Sequence[str], statuses: frozenset[MessageStatus] | MessageStatus,
        within: float = 15.0,
    ) -> list[MessageDetail]:
        wanted = statuses if isinstance(statuses, frozenset) else frozenset({statuses})

        async def probe() -> list[MessageDetail] | None:
            details = [await self.detail(i) for i in message_ids]
            if all(d.message.status in wanted for d in details):
                return details
            return None

        return await eventually(probe, within=within, what=f"messages {sorted(wanted)}")

    def received_texts(self, number: str) -> list[str]:
        handset = self.sim.net.handsets.get(number)
        if handset is None:
            return []
        return [m.text for m in handset.received if m.complete]


def numbers(count: int, start: int = 1000) -> list[str]:
    """Distinct deliverable German mobile numbers (the simulator's operators own +4915x)."""
    return [f"+49151{start + i:08d}" for i in range(count)]

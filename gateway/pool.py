"""The modem pool: finds ports, runs one supervisor per port, and knows each modem by its IMEI.

Ports come from the configured paths and globs (`/dev/serial/by-id/usb-Quectel*-if02*`), with
`/dev/serial/by-id/*` as the default when nothing is configured. They are rescanned every
`scan_interval`, so a modem plugged in later is picked up and one that vanished is `gone`. USB
re-enumeration gives a modem a new path: its IMEI says it is the same modem, which keeps its id,
counters and backoff. Two ports answering with one IMEI (a modem with two AT interfaces, or a
by-id link and its ttyUSB both configured) are driven once: the second port is parked.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from drivers.models import ModemIdentity
from gateway.inbound import MessageListener
from gateway.logging import log_event
from gateway.modem_status import (
    ModemCounters,
    ModemStatus,
    PoolOptions,
    PortSpec,
    SupervisorState,
)
from gateway.supervisor import (
    DuplicatePortError,
    ModemOpener,
    ModemRecord,
    ModemSupervisor,
    open_modem,
)
from gateway.tasks import cancel_and_wait

if TYPE_CHECKING:
    from gateway.scheduler import Scheduler
    from gateway.store.models import InboundMessage
    from gateway.store.protocol import Store
    from gateway.worker import SubmitObserver

_LOG = logging.getLogger(__name__)

DEFAULT_GLOB = "/dev/serial/by-id/*"


class ModemPool:
    def __init__(
        self,
        specs: Sequence[PortSpec],
        *,
        scheduler: Scheduler,
        store: Store,
        options: PoolOptions | None = None,
        opener: ModemOpener = open_modem,
    ) -> None:
        # explicit paths first: their name and group win over a glob that also matches them
        self.specs = tuple(sorted(specs, key=lambda s: s.is_glob))
        self.scheduler = scheduler
        self.store = store
        self.options = options or PoolOptions()
        self._opener = opener
        self.supervisors: dict[str, ModemSupervisor] = {}  # by path
        self.records: dict[str, ModemRecord] = {}  # by IMEI
        self._gone_since: dict[str, datetime] = {}  # IMEI -> when its port went away
        self._scan_task: asyncio.Task[None] | None = None
        # told about each committed inbound message (the messaging layer's keyword handling)
        self.inbound_listeners: list[MessageListener] = []
        self._closing = False
        # where workers report submit times (the daemon's `GatewayMetrics`), None: nowhere
        self.metrics: SubmitObserver | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self.scan()
        if self._scan_task is None:
            self._scan_task = asyncio.get_running_loop().create_task(
                self._scan_loop(), name="pool-scan"
            )

    def stop_claiming(self) -> None:
        self._closing = True  # no new ports either
        for supervisor in self.supervisors.values():
            supervisor.stop_claiming()

    async def wait_idle(self, within: float) -> bool:
        """Wait (bounded) for the jobs in flight to finish; False if some are still running."""
        results = await asyncio.gather(
            *(s.wait_idle(within) for s in list(self.supervisors.values()))
        )
        return all(results)

    async def close(self) -> None:
        self._closing = True
        self.stop_claiming()
        task, self._scan_task = self._scan_task, None
        await cancel_and_wait(task)
        supervisors = list(self.supervisors.values())
        await asyncio.gather(*(s.stop() for s in supervisors), return_exceptions=True)
        self.supervisors.clear()

    # --- discovery ------------------------------------------------------------------------------

    async def _scan_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.scan_interval)
            try:
                self.scan()
            except OSError as exc:
                _LOG.warning("port scan failed: %s", exc)

    def _candidates(self) -> list[tuple[str, PortSpec]]:
        found: list[tuple[str, PortSpec]] = []
        for spec in self.specs:
            if spec.is_glob:
                found.extend((path, spec) for path in sorted(glob.glob(spec.path)))
            elif os.path.exists(spec.path):
                found.append((spec.path, spec))
        return found

    def scan(self) -> None:
        """Start a supervisor for every present port not yet supervised (hot-plug)."""
        if self._closing:
            return
        live = {os.path.realpath(path) for path in self.supervisors}
        for path, spec in self._candidates():
            if path in self.supervisors:
                continue
            real = os.path.realpath(path)
            if real in live:
                continue  # the same device under another name
            live.add(real)
            supervisor = ModemSupervisor(
                path, spec, pool=self, scheduler=self.scheduler, store=self.store,
                options=self.options, opener=self._opener,
            )
            self.supervisors[path] = supervisor
            log_event(_LOG, "port_found", path=path)
            supervisor.start()
        for path, supervisor in self.supervisors.items():
            if supervisor.state is SupervisorState.QUARANTINED and not os.path.exists(path):
                supervisor.wake()  # let it notice it is gone

    # --- identity (called by supervisors) ----------------------------------------------------

    def identify(self, supervisor: ModemSupervisor, identity: ModemIdentity) -> ModemRecord:
        key = identity.imei or f"path:{supervisor.path}"
        record = self.records.get(key)
        if record is not None:
            owner = record.supervisor
            if owner is not None and owner is not supervisor and owner.alive:
                raise DuplicatePortError(record.modem_id)
            if record.path != supervisor.path:
                log_event(_LOG, "modem_reidentified", modem=record.modem_id,
                          old_path=record.path, path=supervisor.path)
            record.identity = identity
            record.path = supervisor.path
        else:
            modem_id = self._new_modem_id(supervisor, identity)
            for imei, other in list(self.records.items()):
                if other.modem_id == modem_id and other.supervisor is None:
                    del self.records[imei]  # a configured name moves to the modem now there
            record = ModemRecord(modem_id, identity, ModemCounters(), supervisor.path)
            self.records[key] = record
        record.supervisor = supervisor
        self._gone_since.pop(key, None)
        return record

    def _new_modem_id(self, supervisor: ModemSupervisor, identity: ModemIdentity) -> str:
        spec = supervisor.spec
        if spec.name and not spec.is_glob:
            return spec.name
        taken = {r.modem_id for r in self.records.values()}
        digits = identity.imei or ""
        candidate = f"modem-{digits[-6:]}" if digits else os.path.basename(supervisor.path)
        if candidate in taken:
            candidate = f"modem-{digits}" if digits else supervisor.path
        return candidate

    def inbound_message(self, message: InboundMessage) -> None:
        for listener in tuple(self.inbound_listeners):
            listener(message)

    def supervisor_finished(self, supervisor: ModemSupervisor) -> None:
        if self.supervisors.get(supervisor.path) is supervisor:
            del self.supervisors[supervisor.path]
        record = supervisor.record
        if record is not None and record.supervisor is supervisor:
            record.supervisor = None
            key = record.identity.imei or f"path:{supervisor.path}"
            self._gone_since[key] = datetime.now(UTC)
            for other in self.supervisors.values():
                if other.duplicate_of == record.modem_id:
                    other.wake()  # its twin port may take over

    # --- views ------------------------------------------------------------------------------------

    def supervisor(self, modem_id: str) -> ModemSupervisor | None:
        for supervisor in self.supervisors.values():
            if supervisor.modem_id == modem_id and supervisor.duplicate_of is None:
                return supervisor
        return None

    # --- operator actions (the API and the status page: pause, resume, reset) ------------------

    def pause(self, modem_id: str) -> bool:
        """Stop `modem_id` claiming jobs; False when no live port drives it."""
        supervisor = self.supervisor(modem_id)
        return supervisor is not None and supervisor.pause()

    def resume(self, modem_id: str) -> bool:
        supervisor = self.supervisor(modem_id)
        return supervisor is not None and supervisor.resume()

    def reset(self, modem_id: str) -> bool:
        """Reset `modem_id` (`AT+CFUN=1,1`, re-initialisation) now; False if it has no session."""
        supervisor = self.supervisor(modem_id)
        return supervisor is not None and supervisor.reset()

    def is_paused(self, modem_id: str) -> bool:
        supervisor = self.supervisor(modem_id)
        return supervisor is not None and supervisor.paused

    def statuses(self) -> list[ModemStatus]:
        out: list[ModemStatus] = []
        shown: set[int] = set()
        for key, record in self.records.items():
            owner = record.supervisor
            if owner is not None:
                out.append(owner.status())
                shown.add(id(owner))
            else:
                out.append(
                    ModemStatus(
                        modem_id=record.modem_id,
                        path=record.path,
                        state=SupervisorState.GONE,
                        since=self._gone_since.get(key, datetime.now(UTC)),
                        identity=record.identity,
                        health=None,
                        counters=record.counters.as_dict(),
                        last_error="device path vanished",
                        group=None,
                    )
                )
        for supervisor in self.supervisors.values():
            if id(supervisor) not in shown:
                out.append(supervisor.status())
        return out

    def count_by_state(self) -> dict[str, int]:
        counts = {state.value: 0 for state in SupervisorState}
        for status in self.statuses():
            counts[status.state.value] += 1
        return counts

    @property
    def ready(self) -> list[str]:
        return [
            s.modem_id for s in self.supervisors.values()
            if s.modem_id is not None and s.state is SupervisorState.READY
        ]


__all__ = ["DEFAULT_GLOB", "ModemPool"]

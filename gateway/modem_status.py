"""The vocabulary of modem supervision: states, per-port settings, timings, counters, snapshots.

Kept apart from the supervisor so the worker, the inbound handler, the HTTP API and the status
page can read a modem's state without importing the machinery that drives it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from drivers.config import ModemConfig as DriverConfig
from drivers.models import ModemHealth, ModemIdentity
from gateway.sim_limits import SimLimits


class SupervisorState(StrEnum):
    """Where one modem is in its life. Only `ready` modems are offered work."""

    PROBING = "probing"  # opening the port, identifying, initialising
    READY = "ready"  # initialised, SIM ready, registered: takes work
    DEGRADED = "degraded"  # answers, but cannot send now (no network, SIM busy, re-init)
    RESETTING = "resetting"  # repair in progress: probe, AT+CFUN=1,1, reopen
    QUARANTINED = "quarantined"  # out of service for a backoff period (repair failed, SIM error)
    GONE = "gone"  # the device path vanished (unplugged); re-identified by IMEI on return

    @property
    def claimable(self) -> bool:
        return self is SupervisorState.READY


@dataclass(frozen=True, slots=True)
class PortSpec:
    """One configured modem entry (`[[modems]]`) or one simulated modem: a path or a glob, and
    what the SIM behind it is for. `name` becomes the modem id for a non-glob path."""

    path: str
    name: str | None = None
    group: str | None = None
    limits: SimLimits = field(default_factory=SimLimits)
    smsc: str | None = None
    baudrate: int = 115200  # UART modules only; USB modems ignore it

    @property
    def is_glob(self) -> bool:
        return any(c in self.path for c in "*?[")


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """Timings of supervision. The defaults suit real modems; tests and the simulator shrink
    them. Every wait in the pool is bounded by one of these or by the driver's `ModemConfig`."""

    health_interval: float = 30.0  # health poll of a ready modem
    degraded_poll: float = 5.0  # health poll while degraded (waiting for network / re-init)
    degraded_reset_after: float = 300.0  # degraded this long: try a reset
    scan_interval: float = 2.0  # hot-plug: how often configured paths and globs are rescanned
    reopen_delay: float = 1.0  # after a lost port, before opening it again
    quarantine_initial: float = 30.0  # first quarantine; doubles on each repeat
    quarantine_max: float = 1800.0  # cap of the quarantine backoff
    stable_after: float = 300.0  # ready this long: the escalation ladder starts over
    idle_wait: float = 5.0  # a worker with nothing to do re-asks the scheduler this often
    repair_timeout: float = 120.0  # bound on one reset (AT+CFUN=1,1, boot, re-init)
    open_timeout: float = 90.0  # bound on opening and initialising a port
    modem: DriverConfig = field(default_factory=DriverConfig)

    @classmethod
    def from_config(cls, section: object, base: PoolOptions | None = None) -> PoolOptions:
        """From a `[pool]` configuration section whose keys are these fields with an `_s`
        suffix (`health_interval_s = 30`); keys it lacks keep `base`'s values. Duck-typed so
        this module needs no pydantic."""
        base = base or cls()
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            value = getattr(section, f"{name}_s", None)
            if value is not None and name != "modem":
                values[name] = float(value)
        return replace(base, **values)

    @classmethod
    def fast(cls, **overrides: Any) -> PoolOptions:
        """Short timings for tests and simulated modems that answer at once."""
        base: dict[str, Any] = {
            "health_interval": 2.0,
            "degraded_poll": 0.3,
            "degraded_reset_after": 5.0,
            "scan_interval": 0.2,
            "reopen_delay": 0.2,
            "quarantine_initial": 0.5,
            "quarantine_max": 4.0,
            "stable_after": 10.0,
            "idle_wait": 1.0,
            "repair_timeout": 15.0,
            "open_timeout": 20.0,
            "modem": DriverConfig.fast(),
        }
        base.update(overrides)
        return cls(**base)


@dataclass(slots=True)
class ModemCounters:
    """Per modem (per IMEI, so a re-plugged modem keeps its history) since the daemon started."""

    messages_sent: int = 0
    parts_sent: int = 0
    send_failures: int = 0
    uncertain: int = 0
    released: int = 0
    received: int = 0
    status_reports: int = 0
    health_polls: int = 0
    health_failures: int = 0
    probes: int = 0
    resets: int = 0
    reopens: int = 0
    quarantines: int = 0
    connection_losses: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class StateChange:
    """One entry of a modem's recent history (kept short: the status page shows it)."""

    at: datetime
    state: SupervisorState
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "state": self.state.value, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ModemStatus:
    """A snapshot of one modem for the API and the status page."""

    modem_id: str | None  # None until the port has been identified
    path: str
    state: SupervisorState
    since: datetime
    identity: ModemIdentity | None
    health: ModemHealth | None
    counters: dict[str, int]
    last_error: str | None
    group: str | None
    quarantined_until: datetime | None = None
    history: tuple[StateChange, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.modem_id,
            "path": self.path,
            "state": self.state.value,
            "since": self.since.isoformat(),
            "identity": asdict(self.identity) if self.identity else None,
            "health": asdict(self.health) if self.health else None,
            "counters": dict(self.counters),
            "last_error": self.last_error,
            "group": self.group,
            "quarantined_until": (
                self.quarantined_until.isoformat() if self.quarantined_until else None
            ),
            "history": [change.as_json() for change in self.history],
        }


__all__ = [
    "ModemCounters",
    "ModemStatus",
    "PoolOptions",
    "PortSpec",
    "StateChange",
    "SupervisorState",
]

"""The status-page rig (imported by the web and health tests as `webrig`): the API rig's
running gateway (simulated modems on real ptys, the real HTTP server on a loopback port, keys
made as `smsgw keys create` makes them) with the status page and health monitor registered.

The `[health]` settings go through the configuration like any other section, with short
intervals so alerts and history show up within a test's patience.
"""

from __future__ import annotations

from typing import Any

from gateway.health import HealthMonitor
from gateway.http.status_page import HEALTH
from tests.api.apirig import ApiRig, Receiver, free_port, numbers
from tests.e2e.e2e_rig import eventually

__all__ = ["ApiRig", "Receiver", "StatusRig", "eventually", "free_port", "numbers"]

FAST_HEALTH: dict[str, Any] = {
    "tick_s": 0.3,
    "history_interval_s": 1,
    "alerts": {"raise_after_s": 0, "error_min_attempts": 3},
    "balance": {"interval_h": 0, "default_code": "*100#", "timeout_s": 5},
}


class StatusRig(ApiRig):
    """`await StatusRig(tmp).start(4)`: the API rig plus the status page and `monitor`."""

    async def start(self, modems: int = 4, *, rate: float = 1000.0,
                    health: dict[str, Any] | None = None, **sections: dict[str, Any]
                    ) -> StatusRig:
        sections["health"] = {**FAST_HEALTH, **(health or {})}
        await super().start(modems, rate=rate, **sections)
        return self

    @property
    def monitor(self) -> HealthMonitor:
        runner = self.rig.gw.http_runner
        assert runner is not None
        return runner.app[HEALTH]

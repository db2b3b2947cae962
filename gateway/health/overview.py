"""The pool at a glance, as JSON: what the status page draws and `smsgw status` prints.

One modem per row (identity, network, signal with its sparkline, state, last error, sent today
against its cap, the queue it serves, alerts, balance), traffic per minute over the last hour,
queue depth per lane, recent failures and recent inbound messages. Customers' numbers are
masked here; the page asks for one in full only when someone reveals it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from drivers.redact import mask_number
from gateway.modem_status import ModemStatus
from gateway.routing import pools_served
from gateway.store.models import InboundMessage, Lane

from .history import QueueFigures
from .monitor import HealthMonitor

REGISTRATION = {
    0: "not registered",
    1: "home",
    2: "searching",
    3: "denied",
    4: "unknown",
    5: "roaming",
    6: "home (SMS only)",
    7: "roaming (SMS only)",
}
# dBm floor of each bar: 4 bars from -70 dBm, none below -105 dBm (or no signal at all)
_BARS = ((-70, 4, "excellent"), (-85, 3, "good"), (-95, 2, "fair"), (-105, 1, "poor"))


def signal_grade(dbm: int | None) -> tuple[int, str]:
    """(bars 0-4, grade word) for a signal strength in dBm."""
    if dbm is None:
        return 0, "none"
    for floor, bars, grade in _BARS:
        if dbm >= floor:
            return bars, grade
    return 0, "very poor"


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat(timespec="seconds")


def modem_row(
    monitor: HealthMonitor,
    status: ModemStatus,
    figures: QueueFigures,
    *,
    now: datetime,
    prefer_on_net: bool,
    paused: bool,
) -> dict[str, Any]:
    modem_id = status.modem_id
    supervisor = monitor.pool.supervisor(modem_id) if modem_id else None
    identity, health = status.identity, status.health
    live = health is not None and status.state.value in ("ready", "degraded")
    dbm = health.signal_dbm if health and live else None
    bars, grade = signal_grade(dbm)
    operator = health.operator_name if health else None
    pools = pools_served(status.group, operator, on_net=prefer_on_net)
    queue = sum(n for (_lane, pool), n in figures.by_lane_pool.items() if pool in pools)
    traffic = monitor.traffic.modem(modem_id, now) if modem_id else None
    balance = monitor.amounts.get(modem_id) if modem_id else None
    last_check = monitor.balances.get(modem_id) if modem_id else None
    registration = health.registration if health else None
    return {
        "id": modem_id,
        "name": (supervisor.spec.name if supervisor else None) or modem_id,
        "path": status.path,
        "state": status.state.value,
        "since": _iso(status.since),
        "paused": paused,
        "model": " ".join(p for p in (identity.manufacturer, identity.model) if p)
        if identity else None,
        "imei": identity.imei if identity else None,
        "iccid": identity.iccid if identity else None,
        "msisdn": identity.msisdn if identity else None,
        "operator": operator,
        "operator_code": health.operator_numeric if health else None,
        "registration": registration,
        "registration_text": REGISTRATION.get(registration, "unknown")
        if registration is not None else None,
        "roaming": health.roaming if health else None,
        "sim_state": str(health.sim_state) if health else None,
        "signal_dbm": dbm,
        "signal_bars": bars,
        "signal_grade": grade,
        "sparkline": monitor.sparkline(modem_id, now) if modem_id else [],
        "storage_used": health.storage_used if health else None,
        "storage_total": health.storage_total if health else None,
        "last_error": status.last_error,
        "sent_today": figures.sent_today.get(modem_id, 0) if modem_id else 0,
        "cap": supervisor.spec.limits.per_day if supervisor else None,
        "queue": queue,
        "latency_s": traffic.latency_s if traffic else None,
        "attempts": traffic.attempts if traffic else 0,
        "errors": traffic.by_class if traffic else {},
        "balance": balance.as_json() if balance else None,
        "balance_checked_at": _iso(last_check.at) if last_check else None,
        "balance_error": last_check.error if last_check else None,
        "last_inbound": _iso(monitor.last_inbound.get(modem_id)) if modem_id else None,
        "up_since": _iso(status.since) if status.state.value == "ready" else None,
        "counters": dict(status.counters),
        "alerts": [a.as_json() for a in monitor.active_alerts(modem_id)] if modem_id else [],
    }


def inbound_row(message: InboundMessage, msisdns: dict[str, str]) -> dict[str, Any]:
    return {
        "id": message.id,
        "modem_id": message.modem_id,
        "to": msisdns.get(message.modem_id),
        "from_masked": mask_number(message.sender),
        "text": message.text,
        "received_at": _iso(message.received_at),
        "complete": message.complete,
    }


async def build_overview(
    monitor: HealthMonitor,
    *,
    summary: dict[str, Any],
    prefer_on_net: bool = False,
    is_paused: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    now = monitor.now()
    figures = await monitor.queue_figures()
    statuses = monitor.pool.statuses()
    rows = [
        modem_row(monitor, s, figures, now=now, prefer_on_net=prefer_on_net,
                  paused=bool(is_paused and s.modem_id and is_paused(s.modem_id)))
        for s in statuses
    ]
    rows.sort(key=lambda r: (r["name"] or r["path"] or ""))
    lanes = {lane.value: 0 for lane in Lane}
    for (rank, _pool), count in figures.by_lane_pool.items():
        lanes[Lane.from_rank(rank).value] += count
    msisdns = {
        s.modem_id: s.identity.msisdn
        for s in statuses
        if s.modem_id and s.identity is not None and s.identity.msisdn
    }
    traffic = monitor.traffic.per_minute(now)
    return {
        "generated_at": now.isoformat(timespec="seconds"),
        "gateway": summary,
        "modems": rows,
        "traffic": traffic,
        "queue": lanes,
        "failures": [f.as_json() for f in monitor.traffic.failures],
        "inbound": [inbound_row(m, msisdns) for m in monitor.inbound],
        "alerts": [a.as_json() for a in monitor.active_alerts()],
    }


__all__ = ["REGISTRATION", "build_overview", "inbound_row", "modem_row", "signal_grade"]

"""The health monitor against a real store: history rows, alerts persisted and sent as
`modem.health` webhooks, restarts, pruning, USSD balance checks and the event ring."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from drivers.errors import CommandTimeout
from drivers.events import UssdStatus
from drivers.models import ModemHealth, ModemIdentity, UssdResult
from gateway.health import BalanceUnavailableError, HealthConfig, HealthMonitor
from gateway.modem_status import ModemStatus, SupervisorState
from gateway.store import SqliteStore
from gateway.store.api_models import WebhookEndpoint
from gateway.store.sqlite_api import ApiStore
from tests.gateway.gwhelpers import FakeClock, msg

HEALTHY = ModemHealth(
    sim_state="ready", registration=1, registered=True, roaming=False, operator_numeric="26201",
    operator_name="SimTel", signal_dbm=-71, rssi=21, storage_used=1, storage_total=30,
)
IDENTITY = ModemIdentity(imei="350000000000001", imsi=None, iccid="8949000000000000001",
                         msisdn="+4915105550000", manufacturer="smsgw-sim", model="GSM-1",
                         revision="1", dialect="generic")


def modem_status(modem_id: str, health: ModemHealth | None = HEALTHY,
                 state: SupervisorState = SupervisorState.READY) -> ModemStatus:
    return ModemStatus(modem_id=modem_id, path=f"/dev/{modem_id}", state=state,
                       since=datetime(2025, 3, 10, 11, 0, tzinfo=UTC), identity=IDENTITY,
                       health=health, counters={}, last_error=None, group=None)


class FakeModem:
    def __init__(self, answer: UssdResult | Exception) -> None:
        self.answer = answer
        self.ready = True
        self.asked: list[str] = []

    async def ussd(self, code: str, *, timeout: float | None = None) -> UssdResult:
        self.asked.append(code)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class FakeSupervisor:
    def __init__(self, modem: FakeModem | None) -> None:
        self.modem = modem
        self.identity = IDENTITY
        self.health = HEALTHY
        self.port_lock = asyncio.Lock()


class FakePool:
    def __init__(self) -> None:
        self.modems: dict[str, ModemStatus] = {}
        self.supervisors: dict[str, FakeSupervisor] = {}

    def statuses(self) -> list[ModemStatus]:
        return list(self.modems.values())

    def supervisor(self, modem_id: str) -> Any:
        return self.supervisors.get(modem_id)

    def set(self, modem_id: str, health: ModemHealth | None = HEALTHY,
            state: SupervisorState = SupervisorState.READY) -> None:
        self.modems[modem_id] = modem_status(modem_id, health, state)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "smsgw.db", clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def pool() -> FakePool:
    return FakePool()


def config(**values: Any) -> HealthConfig:
    base: dict[str, Any] = {"alerts": {"raise_after_s": 0}, "balance": {"interval_h": 0}}
    for key, value in values.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return HealthConfig.model_validate(base)


async def monitor_for(store: SqliteStore, pool: FakePool, clock: FakeClock, **values: Any
                      ) -> HealthMonitor:
    monitor = HealthMonitor(store, pool, config(**values), clock=clock)
    await monitor.load()
    return monitor


async def subscribe(store: SqliteStore, clock: FakeClock, events: tuple[str, ...]) -> str:
    endpoint = WebhookEndpoint(f"wh_{len(events)}_{events[0]}", "https://ops.example/hook",
                               events, "standard", "whsec_" + "A" * 40, "admin", None, True,
                               None, clock())
    await ApiStore(store).add_endpoint(endpoint)
    return endpoint.id


async def outbox(store: SqliteStore, clock: FakeClock) -> list[dict[str, Any]]:
    items = await ApiStore(store).due_items(clock() + timedelta(days=1), 100)
    return [{"endpoint": i.endpoint_id, "type": i.event_type, **json.loads(i.payload)["data"]}
            for i in items]


async def count(store: SqliteStore, table: str) -> int:
    row = await store.run_in_reader(lambda c: c.execute(f"SELECT count(*) FROM {table}")
                                    .fetchone())
    return int(row[0])


async def test_alerts_are_persisted_logged_and_sent_to_subscribers(
    store: SqliteStore, pool: FakePool, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    subscribed = await subscribe(store, clock, ("modem.health",))
    await subscribe(store, clock, ("message.status",))
    pool.set("m0")
    pool.set("m1", replace(HEALTHY, signal_dbm=-109, rssi=2))
    monitor = await monitor_for(store, pool, clock)
    caplog.set_level(logging.INFO, logger="gateway.health.monitor")
    changes = await monitor.tick()
    assert [(c.alert.modem_id, c.alert.kind.value, c.raised) for c in changes] == [
        ("m1", "weak_signal", True)]
    (sent,) = await outbox(store, clock)
    assert sent["endpoint"] == subscribed and sent["type"] == "modem.health"
    assert (sent["id"], sent["alert"], sent["status"], sent["state"]) == (
        "m1", "weak_signal", "raised", "ready")
    assert sent["value"] == "-109 dBm" and "-100 dBm" in sent["detail"]
    assert any(r.getMessage() == "health_alert" and r.levelno == logging.WARNING
               for r in caplog.records)
    assert [a.kind.value for a in monitor.active_alerts("m1")] == ["weak_signal"]

    clock.advance(5)
    pool.set("m1")  # the signal is back
    changes = await monitor.tick()
    assert [(c.alert.kind.value, c.raised) for c in changes] == [("weak_signal", False)]
    statuses = [(e["alert"], e["status"]) for e in await outbox(store, clock)]
    assert statuses == [("weak_signal", "raised"), ("weak_signal", "recovered")]
    assert any(r.getMessage() == "health_recovered" for r in caplog.records)
    row = await store.run_in_reader(lambda c: c.execute(
        "SELECT kind, cleared_at IS NOT NULL FROM health_alerts").fetchall())
    assert row == [("weak_signal", 1)]


async def test_history_is_kept_once_per_interval_and_on_each_state_change(
    store: SqliteStore, pool: FakePool, clock: FakeClock
) -> None:
    pool.set("m0")
    monitor = await monitor_for(store, pool, clock, history_interval_s=60)
    await monitor.tick()
    clock.advance(10)
    await monitor.tick()
    assert await count(store, "health_samples") == 1
    pool.set("m0", replace(HEALTHY, registration=2, registered=False), SupervisorState.DEGRADED)
    await monitor.tick()
    clock.advance(61)
    await monitor.tick()
    history = await monitor.history("m0", hours=1)
    assert [(s.state, s.registration) for s in history] == [
        ("ready", 1), ("degraded", 2), ("degraded", 2)]
    assert history[0].signal_dbm == -71 and history[0].operator == "SimTel"
    spark = monitor.sparkline("m0", clock())
    assert len(spark) == 120 and spark[-1] == -71 and spark[0] is None


async def test_a_restart_neither_raises_open_alerts_again_nor_forgets_them(
    store: SqliteStore, pool: FakePool, clock: FakeClock
) -> None:
    await subscribe(store, clock, ("modem.health",))
    pool.set("m0", replace(HEALTHY, sim_state="pin_required"))
    first = await monitor_for(store, pool, clock)
    assert len(await first.tick()) == 1
    second = await monitor_for(store, pool, clock)
    assert [a.kind.value for a in second.active_alerts()] == ["sim_locked"]
    assert await second.tick() == []
    pool.set("m0")
    (recovered,) = await second.tick()
    assert not recovered.raised
    assert [e["status"] for e in await outbox(store, clock)] == ["raised", "recovered"]


async def test_old_history_is_pruned(store: SqliteStore, pool: FakePool, clock: FakeClock
                                     ) -> None:
    pool.set("m0")
    monitor = await monitor_for(store, pool, clock, retention_hours=2, history_interval_s=1800)
    for _ in range(6):  # 3 hours, one row each half hour
        await monitor.tick()
        clock.advance(1800)
    await monitor.tick()
    kept = await monitor.history("m0", hours=24)
    assert len(kept) == 5  # the rows of the last 2 hours (and the one just written)
    assert kept[0].at >= clock() - timedelta(hours=2)


async def test_feeds_become_events_and_traffic(store: SqliteStore, pool: FakePool,
                                               clock: FakeClock) -> None:
    monitor = await monitor_for(store, pool, clock)
    events, head, missed = monitor.events_after(0)
    assert (events, head, missed) == ([], 0, 0)
    await store.enqueue(msg("+4915112345678", "hello"))
    await monitor.tick()
    events, head, _missed = monitor.events_after(0)
    assert [(e.type, e.data["status"]) for e in events] == [("message.status", "queued")]
    assert monitor.events_after(head) == ([], head, 0)
    figures = await monitor.queue_figures()
    assert sum(figures.by_lane_pool.values()) == 1


async def test_balance_on_demand_parses_records_and_feeds_the_alert(
    store: SqliteStore, pool: FakePool, clock: FakeClock
) -> None:
    pool.set("m0")
    modem = FakeModem(UssdResult(UssdStatus.DONE, "SimTel: Balance 3.20 EUR.", 15))
    pool.supervisors["m0"] = FakeSupervisor(modem)
    monitor = await monitor_for(store, pool, clock, alerts={"balance_min": "5"},
                                balance={"codes": {"262-01": "*101#"}})
    record = await monitor.check_balance("m0")
    assert modem.asked == ["*101#"]
    assert (record.amount, record.currency, record.error) == (Decimal("3.20"), "EUR", None)
    (change,) = await monitor.tick()
    assert change.alert.kind.value == "balance_low" and change.alert.value == "3.20"

    modem.answer = CommandTimeout("no USSD answer within 30 s")
    failed = await monitor.check_balance("m0")
    assert failed.amount is None and "CommandTimeout" in (failed.error or "")
    assert monitor.amounts["m0"].amount == Decimal("3.20")  # the last known amount stays
    assert await monitor.tick() == []
    again = await monitor_for(store, pool, clock, alerts={"balance_min": "5"})
    assert again.balances["m0"].error is not None
    assert again.amounts["m0"].amount == Decimal("3.20")

    modem.answer = UssdResult(UssdStatus.DONE, "SimTel: postpaid tariff, no prepaid balance.", 15)
    postpaid = await monitor.check_balance("m0")
    assert postpaid.error == "no amount found in the answer" and postpaid.answer is not None


async def test_balance_needs_a_code_and_a_connected_modem(
    store: SqliteStore, pool: FakePool, clock: FakeClock
) -> None:
    pool.set("m0")
    monitor = await monitor_for(store, pool, clock)
    with pytest.raises(BalanceUnavailableError, match="not connected"):
        await monitor.check_balance("m0")
    pool.supervisors["m0"] = FakeSupervisor(FakeModem(UssdResult(UssdStatus.DONE, "x", 15)))
    with pytest.raises(BalanceUnavailableError, match="no USSD balance code"):
        await monitor.check_balance("m0")


async def test_scheduled_balance_checks_run_one_at_a_time_when_due(
    store: SqliteStore, pool: FakePool, clock: FakeClock
) -> None:
    for name in ("m0", "m1"):
        pool.set(name)
        pool.supervisors[name] = FakeSupervisor(
            FakeModem(UssdResult(UssdStatus.DONE, "Balance 9.00 EUR", 15)))
    monitor = await monitor_for(store, pool, clock,
                                balance={"interval_h": 24, "default_code": "*100#"})
    try:
        for _ in range(3):
            await monitor.tick()
            await asyncio.gather(*monitor._checks)
        assert sorted(monitor.balances) == ["m0", "m1"]
        asked = [len(s.modem.asked) for s in pool.supervisors.values() if s.modem]
        assert asked == [1, 1]
        clock.advance(3600)
        await monitor.tick()
        assert not monitor._checks  # not due again before a day has passed
    finally:
        await monitor.close()


async def test_the_transitions_cursor_starts_an_hour_back_and_reads_a_bounded_amount(
    store: SqliteStore, clock: FakeClock
) -> None:
    from gateway.health import history

    for minutes_ago in (120, 90, 61, 59, 30, 1):
        clock.now = clock.now.replace(hour=12, minute=0) - timedelta(minutes=minutes_ago)
        await store.enqueue(msg(f"+49151000{minutes_ago:05d}", "x"))
    clock.now = clock.now.replace(hour=12, minute=0)
    ids = await store.run_in_reader(
        lambda c: [r[0] for r in c.execute("SELECT id FROM transitions ORDER BY id")])

    async def cursor(most: int) -> int:
        since = clock() - timedelta(hours=1)
        return await store.run_in_reader(lambda c: history.transition_cursor(c, since, most))

    assert await cursor(1000) == ids[2]  # the three of the last hour follow it
    assert await cursor(2) == ids[-1] - 2
    assert await store.run_in_reader(
        lambda c: history.transition_cursor(c, clock() + timedelta(hours=1), 1000)) == ids[-1]

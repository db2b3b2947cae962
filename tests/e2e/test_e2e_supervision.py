"""Supervision end to end: the escalation ladder, hot-plug, re-identification, graceful stop."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from gateway.modem_status import PoolOptions, PortSpec, SupervisorState
from gateway.store.models import MessageStatus
from tests.e2e.e2e_rig import Rig, eventually, numbers

S = SupervisorState


async def test_a_hung_modem_climbs_the_ladder_and_comes_back(rig: Rig) -> None:
    await rig.start(2)
    rig.sim.inject("modem0", {"kind": "hang", "duration": 5.0})
    supervisor = rig.gw.pool.supervisor("modem0")
    assert supervisor is not None
    supervisor.report_hang("test: a submit went unanswered")
    await eventually(lambda: rig.state_of("modem0") is S.QUARANTINED, within=10.0,
                     what="modem0 quarantined")
    # meanwhile the other modem carries the traffic
    (to,) = numbers(1, start=5000)
    message_id = await rig.send(to, "while modem0 hangs")
    (detail,) = await rig.wait_status([message_id], MessageStatus.DELIVERED)
    assert detail.message.modem_id == "modem1"
    await eventually(lambda: rig.state_of("modem0") is S.READY, within=15.0,
                     what="modem0 ready after the hang")
    status = next(s for s in rig.gw.pool.statuses() if s.modem_id == "modem0")
    steps = [(c.state, c.reason or "") for c in status.history]
    resetting = [reason for state, reason in steps if state is S.RESETTING]
    assert resetting[0].startswith("probing: no answer")  # rung 1: one health poll
    assert resetting[1].startswith("resetting (AT+CFUN=1,1)")  # rung 2
    assert resetting[2].startswith("reopening port: reset failed")  # rung 3
    quarantines = [reason for state, reason in steps if state is S.QUARANTINED]
    assert quarantines  # rung 4, with a backoff that doubles
    counters = status.counters
    assert counters["probes"] >= 1 and counters["resets"] >= 1 and counters["reopens"] >= 1
    assert counters["quarantines"] >= 1


async def test_modems_plugged_in_later_are_found_by_glob(rig: Rig, tmp_path: Path) -> None:
    await rig.start_gateway(specs=[PortSpec(path=str(rig.sim_dir / "modem*"))])
    assert rig.gw.pool.statuses() == []
    await rig.start_sim(2)
    ready = await rig.wait_ready(2)
    assert len(ready) == 2 and all(r.startswith("modem-") for r in ready)  # ids from the IMEI
    imeis = {s.identity.imei for s in rig.gw.pool.statuses() if s.identity}
    assert imeis == {m.imei for m in rig.sim.modems}


async def test_a_replugged_modem_is_recognised_by_its_imei_under_a_new_path(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.start_sim(2)
    ports = tmp_path / "by-id"
    ports.mkdir()
    (ports / "usb-modem-a").symlink_to(rig.sim.paths[0])
    (ports / "usb-modem-b").symlink_to(rig.sim.paths[1])
    # the same device under a second name is driven once
    (ports / "usb-modem-a-alias").symlink_to(os.path.realpath(rig.sim.paths[0]))
    await rig.start_gateway(specs=[PortSpec(path=str(ports / "*"))], ready=2)
    assert len(rig.gw.pool.supervisors) == 2
    (to,) = numbers(1, start=6000)
    await rig.wait_status([await rig.send(to, "before the unplug")], MessageStatus.DELIVERED)
    first = {s.identity.imei: s for s in rig.gw.pool.statuses() if s.identity}
    sent_before = sum(s.counters["messages_sent"] for s in first.values())
    imei = rig.sim.modems[0].imei
    modem_id = first[imei].modem_id
    assert modem_id is not None

    # unplug modem0; when it returns, udev gives it another name
    rig.sim.inject("modem0", {"kind": "unplug", "seconds": 1.0})
    for name in ("usb-modem-a", "usb-modem-a-alias"):
        (ports / name).unlink()
    await eventually(lambda: rig.state_of(modem_id) is S.GONE, what="modem0 gone")
    await eventually(lambda: os.path.exists(rig.sim.paths[0]), within=5.0, what="replug")
    (ports / "usb-modem-c").symlink_to(os.path.realpath(rig.sim.paths[0]))
    await eventually(lambda: rig.state_of(modem_id) is S.READY, within=10.0,
                     what="the same modem ready again")
    again = {s.identity.imei: s for s in rig.gw.pool.statuses() if s.identity}
    assert again[imei].modem_id == modem_id
    assert again[imei].path == str(ports / "usb-modem-c")
    assert again[imei].counters["connection_losses"] == 1
    assert sum(s.counters["messages_sent"] for s in again.values()) == sent_before
    assert len(again) == 2


async def test_graceful_stop_lets_submits_in_flight_finish(rig: Rig) -> None:
    await rig.start_sim(2, latency=0.6)
    # health polls (and hot-plug scans) keep running during the stop: they must not end a
    # session with a submit in flight, nor open ports again
    rig.options = replace(
        rig.options, pool=PoolOptions.fast(health_interval=0.1, scan_interval=0.05)
    )
    await rig.start_gateway()
    recipients = numbers(6, start=7000)
    ids = await rig.send_many([(to, "shutdown test") for to in recipients])

    async def in_flight() -> bool:
        counts = await rig.gw.store.counts_by_status()
        return counts.get("sending", 0) >= 2

    await eventually(in_flight, what="two submits in flight")
    await rig.stop_gateway()  # SIGTERM path: stop claiming, wait for the submits, commit
    await rig.start_gateway()
    assert rig.gw.store.recovery.uncertain == ()  # nothing was cut off mid-submit
    details = await rig.wait_status(ids, MessageStatus.DELIVERED, within=20.0)
    assert not any(d.message.uncertain for d in details)
    for to in recipients:
        assert rig.received_texts(to) == ["shutdown test"]

"""Every modem fault the simulator can inject, on one modem of three, while traffic flows.

For each fault: every accepted message still ends `delivered` (the other modems carry it, or the
faulty one after its supervisor repaired it), no message reaches its handset twice unless the
store flagged it uncertain, the faulty modem passes through the state its supervisor should put
it in, and (unless the fault needs a person, like a PIN) it comes back `ready`.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.modem_status import SupervisorState
from gateway.store.models import MessageStatus
from tests.e2e.e2e_rig import Rig, eventually, numbers

S = SupervisorState

# fault -> (spec, a state modem0 must pass through (None: no change needed), comes back ready)
FAULTS: dict[str, tuple[dict[str, Any], SupervisorState | None, bool]] = {
    "hang": ({"kind": "hang", "duration": 2.5}, S.RESETTING, True),
    "hang_rdy_loop": ({"kind": "hang", "duration": 2.5, "mode": "rdy_loop"}, S.RESETTING, True),
    "unplug": ({"kind": "unplug", "seconds": 1.0}, S.GONE, True),
    "reboot": ({"kind": "reboot"}, S.DEGRADED, True),
    "garbage": ({"kind": "garbage", "duration": 2.0, "size": 48}, None, True),
    "split": ({"kind": "split", "duration": 5.0}, None, True),
    "urc_in_response": ({"kind": "urc_in_response", "duration": 5.0}, None, True),
    "urc_storm": ({"kind": "urc_storm", "duration": 2.0, "rate": 100}, None, True),
    "slow_submit": ({"kind": "slow_submit", "seconds": 3.0, "count": 1}, S.RESETTING, True),
    "cms_temporary": ({"kind": "cms_error", "code": 500, "count": 2}, None, True),
    "cms_sim_barred": ({"kind": "cms_error", "code": 8, "count": 1}, S.QUARANTINED, True),
    "cms_modem_failure": ({"kind": "cms_error", "code": 300, "count": 1}, S.RESETTING, True),
    "cme_error": ({"kind": "cme_error", "code": 100, "count": 3}, None, True),
    "sim_removed": ({"kind": "sim_removed", "duration": 1.5}, S.DEGRADED, True),
    "pin_required": ({"kind": "pin_required"}, S.QUARANTINED, False),
    "network_lost": ({"kind": "network_lost", "duration": 1.5}, S.DEGRADED, True),
    "storage_full": ({"kind": "storage_full", "duration": 10.0}, None, True),
    "lost_submit_answer": ({"kind": "lost_submit_answer", "count": 1}, S.RESETTING, True),
    "incoming_call": ({"kind": "incoming_call"}, None, True),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_pool_keeps_delivering_through_a_modem_fault(rig: Rig, fault: str) -> None:
    spec, passes_through, recovers = FAULTS[fault]
    await rig.start(3, latency=0.05)
    rig.sim.inject("modem0", spec)
    recipients = numbers(12, start=3000)
    ids = await rig.send_many([(to, f"fault test {fault} #{i}") for i, to in enumerate(recipients)])

    seen: set[SupervisorState] = set()

    async def all_delivered() -> bool:
        state = rig.state_of("modem0")
        if state is not None:
            seen.add(state)
        details = [await rig.detail(i) for i in ids]
        return all(d.message.status is MessageStatus.DELIVERED for d in details)

    await eventually(all_delivered, within=25.0, what=f"every message delivered ({fault})")
    for message_id, to in zip(ids, recipients, strict=True):
        detail = await rig.detail(message_id)
        texts = [m.text for m in rig.sim.net.handsets[to].received]
        if detail.message.uncertain:
            assert len(texts) >= 1, to
        else:
            assert texts == [detail.message.text], f"{to} got {texts}"

    if passes_through is not None:

        def went_through() -> bool:
            status = next(s for s in rig.gw.pool.statuses() if s.modem_id == "modem0")
            seen.update(change.state for change in status.history)
            return passes_through in seen

        await eventually(went_through, within=10.0, what=f"modem0 {passes_through} ({fault})")
    if recovers:
        await eventually(
            lambda: rig.state_of("modem0") is S.READY, within=20.0, what="modem0 ready again"
        )
        # still the same modem (re-identified by IMEI after an unplug), still sending
        (to,) = numbers(1, start=4000)
        follow_up = await rig.send(to, "after the fault")
        await rig.wait_status([follow_up], MessageStatus.DELIVERED)
    else:
        assert rig.state_of("modem0") is not S.READY

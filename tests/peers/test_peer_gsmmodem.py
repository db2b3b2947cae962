"""python-gsmmodem-new (threads and blocking I/O inside) connects, sends and receives.

The library is run in a worker thread while the simulator keeps running on the test's loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from gsmmodem.modem import GsmModem, SentSms

from sim.pool import SimPool

HANDSET = "+4915187654321"


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[SimPool]:
    async with SimPool(2, tmp_path / "dev", profile=["generic", "ec25"], report_delay=0.0,
                       vendor_urc_interval=0.0, boot_time=0.05) as p:
        yield p


@pytest.mark.parametrize("index", [0, 1], ids=["generic", "ec25"])
async def test_gsmmodem_connects_sends_and_receives(pool: SimPool, index: int) -> None:
    received: list[Any] = []
    arrived = threading.Event()

    def on_sms(sms: Any) -> None:
        received.append(sms)
        arrived.set()

    modem = GsmModem(pool.paths[index], 115200, smsReceivedCallbackFunc=on_sms)
    await asyncio.to_thread(modem.connect)
    try:
        sim = pool.modem(index)
        assert await asyncio.to_thread(lambda: modem.imei) == sim.imei
        assert await asyncio.to_thread(lambda: modem.networkName) == sim.sim.operator.name

        sent = await asyncio.to_thread(
            modem.sendSms, HANDSET, "Hello from python-gsmmodem", True, 10
        )
        assert sent.status == SentSms.DELIVERED  # the +CDSI status report was matched
        assert [m.text for m in pool.net.handsets[HANDSET].received] == [
            "Hello from python-gsmmodem"
        ]

        pool.net.send_from_handset(HANDSET, sim.sim.msisdn, "STOP")
        assert await asyncio.to_thread(arrived.wait, 10)
        assert [(m.number, m.text) for m in received] == [(HANDSET, "STOP")]
        # the library read it with +CMGR and deleted it with +CMGD: the SIM is empty again
        await asyncio.sleep(0.1)
        assert all(store.used == 0 for store in sim.stores.values())
    finally:
        await asyncio.to_thread(modem.close)

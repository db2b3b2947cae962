"""The start-up drain asks for the status-report memory ("SR") too, and stops asking a modem
that has none, but not one that was only busy. The modem here is a stand-in for the AT layer
(the e2e tests drive the real one over a pty)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from drivers.errors import AtError
from drivers.models import StoredMessage
from gateway.inbound import InboundHandler


class ListingModem:
    def __init__(self, report_error: AtError | None) -> None:
        self.report_error = report_error
        self.listed: list[str | None] = []

    async def list_messages(self, *, storage: str | None = None) -> list[StoredMessage]:
        self.listed.append(storage)
        if storage == "SR" and self.report_error is not None:
            raise self.report_error
        return []


def handler(modem: ListingModem) -> InboundHandler:
    unused = cast(Any, None)  # nothing is stored: the store and scheduler are never reached
    return InboundHandler("m1", cast(Any, modem), store=unused, scheduler=unused,
                          counters=unused)


@pytest.mark.parametrize("error", [
    AtError(None, None, "ERROR", command='AT+CPMS="SR"'),  # a bare ERROR: no such memory
    AtError("CMS", 302, "operation not allowed", command='AT+CPMS="SR"'),
])
async def test_a_modem_without_report_memory_is_asked_once(error: AtError) -> None:
    modem = ListingModem(error)
    inbound = handler(modem)
    assert await inbound.drain() == 0
    assert await inbound.drain() == 0
    assert modem.listed == [None, "SR", None]


async def test_a_busy_modem_is_asked_again_next_time() -> None:
    modem = ListingModem(AtError("CMS", 314, "SIM busy", command='AT+CPMS="SR"'))
    inbound = handler(modem)
    await inbound.drain()
    await inbound.drain()
    assert modem.listed == [None, "SR", None, "SR"]


async def test_a_modem_with_report_memory_is_listed_every_drain() -> None:
    modem = ListingModem(None)
    inbound = handler(modem)
    await inbound.drain()
    await inbound.drain()
    assert modem.listed == [None, "SR", None, "SR"]

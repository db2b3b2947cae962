"""Property: whatever the chunking, wherever URCs and line noise land, the response is exactly
its own lines and every URC comes out once, in order."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.at.channel import AtChannel
from drivers.at.urc import Urc, UrcRouter
from drivers.dialects import GenericDialect
from drivers.events import IncomingCall, MessageReceived, MessageStored, RegistrationChanged
from tests.drivers.at_fakes import FakeTransport

PDU = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
URCS = [
    (b'+CMTI: "SM",7', MessageStored("SM", 7)),
    (b"+CREG: 5", RegistrationChanged(5, "CREG")),
    (f"+CMT: ,29\r\n{PDU}".encode(), MessageReceived(PDU)),
    (b"^RSSI:12", None),
    (b"RING", IncomingCall(None)),
]
NOISE = st.binary(min_size=1, max_size=6).map(
    lambda b: bytes(x | 0x80 for x in b)  # high-bit noise: never a line end or a letter
)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[bytes, list[str], list[object], list[int]]:
    count = draw(st.integers(0, 4))
    lines = []
    for i in range(count):
        lines += [f"+CMGL: {i},1,,29", PDU]
    echo = draw(st.booleans())
    parts: list[bytes] = []
    urc_events: list[object] = []
    if echo:
        cut = draw(st.integers(1, 8))
        command = b"AT+CMGL=4\r"
        parts.append(command[:cut])
        if draw(st.booleans()):
            parts.append(b"\r\n+CMTI: \"SM\",1\r\n")
            urc_events.append(MessageStored("SM", 1))
        parts.append(command[cut:])
    body = [f"\r\n{line}\r\n".encode() for line in lines] + [b"\r\nOK\r\n"]
    for chunk in body:
        if draw(st.booleans()):
            raw, event = draw(st.sampled_from(URCS))
            parts.append(b"\r\n" + raw + b"\r\n")
            if event is not None:
                urc_events.append(event)
        if draw(st.integers(0, 4)) == 0:
            parts.append(draw(NOISE))
        parts.append(chunk)
    data = b"".join(parts)
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=30))))
    return data, lines, urc_events, cuts


@given(scenario())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_response_and_urcs_survive_any_interleaving(
    case: tuple[bytes, list[str], list[object], list[int]],
) -> None:
    data, lines, urc_events, cuts = case

    async def run() -> tuple[tuple[str, ...], list[object]]:
        urcs: list[Urc] = []
        channel = AtChannel(router=UrcRouter(GenericDialect().urc_patterns()), on_urc=urcs.append)
        transport = FakeTransport(channel)
        channel.connection_made(transport)
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        transport.on_write = lambda _w: transport.feed(data, [c for c in chunks if c])
        response = await channel.execute(
            "AT+CMGL=4", deadline=2, prefixes=frozenset({"+CMGL:"})
        )
        channel.close()
        await channel.wait_closed(1)
        return response.lines, [u.event for u in urcs if u.event is not None]

    got_lines, got_events = asyncio.run(run())
    assert list(got_lines) == lines
    assert got_events == urc_events

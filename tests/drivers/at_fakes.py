"""Byte-level fakes for the driver's lower layers: a transport the test scripts, and a tiny AT
responder. They sit where the serial port would be, so the production channel runs unchanged.
The simulator (`sim/`) is the full fake; these exist to make one behaviour at a time exact.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def chunked(data: bytes, rng: random.Random, max_size: int = 7) -> list[bytes]:
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        size = rng.randint(1, max_size)
        out.append(data[pos : pos + size])
        pos += size
    return out


class FakeTransport(asyncio.WriteTransport):
    """Records writes, hands them to `on_write`, and delivers modem bytes to the protocol in
    order (each chunk in its own loop iteration, as a serial port would)."""

    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self.protocol = protocol
        self.written: list[bytes] = []
        self.on_write: Callable[[bytes], None] | None = None
        self.closed = False
        self._loop = asyncio.get_running_loop()
        self._queue: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.closed:
            return
        data = bytes(data)
        self.written.append(data)
        if self.on_write is not None:
            self.on_write(data)

    def feed(self, data: bytes, chunks: list[bytes] | None = None) -> None:
        self._queue.extend(chunks if chunks is not None else [data])
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._deliver)

    def _deliver(self) -> None:
        self._scheduled = False
        if not self._queue or self.closed:
            return
        self.protocol.data_received(self._queue.pop(0))
        if self._queue:
            self._scheduled = True
            self._loop.call_soon(self._deliver)

    def unplug(self, exc: Exception | None = None) -> None:
        """The device vanished: EIO on the next read."""
        if self.closed:
            return
        self.closed = True
        self.protocol.connection_lost(exc or OSError(5, "Input/output error"))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._loop.call_soon(self.protocol.connection_lost, None)

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    @property
    def text(self) -> str:
        return b"".join(self.written).decode("latin-1")


Reply = list[str] | Callable[[str], list[str] | None] | None


@dataclass
class ScriptedModem:
    """A minimal AT responder: `replies[command]` -> lines (the final result included).

    Good enough for the driver's init sequence; behaviours are switched with attributes.
    """

    transport: FakeTransport
    replies: dict[str, Reply] = field(default_factory=dict)
    echo: bool = False
    rng: random.Random | None = None  # set to split every answer in random chunks
    silent: bool = False
    submit_reply: list[str] | None = field(default_factory=lambda: ["+CMGS: 7", "OK"])
    prompt: bytes = b"\r\n> "
    received: list[str] = field(default_factory=list)
    _line: bytearray = field(default_factory=bytearray)
    _in_prompt: bool = False

    def __post_init__(self) -> None:
        self.transport.on_write = self._on_write
        defaults: dict[str, Reply] = {
            "AT": ["OK"],
            "ATE0": self._echo_off,
            "ATE1": self._echo_on,
            "AT+CMEE=1": ["OK"],
            "AT+CMEE?": ["+CMEE: 1", "OK"],
            "AT+CGMI": ["FakeCom", "OK"],
            "AT+CGMM": ["FC-1", "OK"],
            "AT+CGMR": ["FC-1.0", "OK"],
            "ATI": ["FakeCom FC-1", "OK"],
            "AT+CGSN": ["356938035643809", "OK"],
            "AT+CPIN?": ["+CPIN: READY", "OK"],
            "AT+CIMI": ["262011234567890", "OK"],
            "AT+CCID": ["+CCID: 89490112345678901234", "OK"],
            "AT+CNUM": ['+CNUM: "","+4917012345678",145', "OK"],
            'AT+CSCS="IRA"': ["OK"],
            "AT+CMGF=0": ["OK"],
            "AT+CSMS?": ["+CSMS: 0,1,1,1", "OK"],
            'AT+CPMS="SM","SM","SM"': ["+CPMS: 0,30,0,30,0,30", "OK"],
            'AT+CPMS="SR"': ["+CPMS: 0,10,0,30,0,30", "OK"],
            'AT+CPMS="SM"': ["+CPMS: 0,30,0,30,0,30", "OK"],
            "AT+CPMS?": ['+CPMS: "SM",2,30,"SM",2,30,"SM",2,30', "OK"],
            "AT+CNMI=2,1,2,1,0": ["OK"],
            "AT+CREG=1": ["OK"],
            "AT+CEREG=1": ["OK"],
            "AT+CREG?": ["+CREG: 1,1", "OK"],
            "AT+CEREG?": ["+CEREG: 1,4", "OK"],
            "AT+COPS=3,2": ["OK"],
            "AT+COPS=3,0": ["OK"],
            "AT+CSQ": ["+CSQ: 20,99", "OK"],
            "AT+CMMS=2": ["OK"],
            "AT+CMMS=0": ["OK"],
        }
        self._cops_format = 0
        defaults["AT+COPS?"] = lambda _c: (
            ['+COPS: 0,2,"26201",7', "OK"] if self._cops_format == 2 else
            ['+COPS: 0,0,"SimTel",7', "OK"]
        )
        for key in ("AT+COPS=3,2", "AT+COPS=3,0"):
            defaults[key] = self._cops_setter(int(key[-1]))
        for key, value in defaults.items():
            self.replies.setdefault(key, value)

    def _cops_setter(self, fmt: int) -> Callable[[str], list[str]]:
        def run(_c: str) -> list[str]:
            self._cops_format = fmt
            return ["OK"]

        return run

    def _echo_off(self, _c: str) -> list[str]:
        self.echo = False
        return ["OK"]

    def _echo_on(self, _c: str) -> list[str]:
        self.echo = True
        return ["OK"]

    def send(self, data: bytes) -> None:
        """Bytes from the modem, split at random when `rng` is set."""
        if self.rng is not None:
            self.transport.feed(data, chunked(data, self.rng))
        else:
            self.transport.feed(data)

    def lines(self, *lines: str) -> None:
        self.send(b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines))

    def _on_write(self, data: bytes) -> None:
        if self.silent:
            return
        for byte in data:
            if self._in_prompt:
                if byte == 0x1A:
                    self._in_prompt = False
                    body = bytes(self._line).decode()
                    self._line.clear()
                    self.received.append("PDU:" + body)
                    if self.submit_reply is not None:
                        self.lines(*self.submit_reply)
                elif byte == 0x1B:
                    self._in_prompt = False
                    self._line.clear()
                    self.received.append("ESC")
                    self.lines("OK")
                else:
                    self._line.append(byte)
                continue
            if byte == 0x1B:
                continue
            if byte == 0x0D:
                command = bytes(self._line).decode()
                self._line.clear()
                self._run(command)
            else:
                self._line.append(byte)

    def _run(self, command: str) -> None:
        if not command.strip():
            return
        self.received.append(command)
        if self.echo:
            self.send(command.encode() + b"\r")
        if command.startswith("AT+CMGS="):
            self._in_prompt = True
            self.send(self.prompt)
            return
        reply = self.replies.get(command, ["ERROR"])
        if callable(reply):
            reply = reply(command)
        if reply is None:
            return  # stays silent
        self.lines(*reply)

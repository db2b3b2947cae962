"""A minimal HTTP/1.1 keep-alive load generator, in the spirit of `wrk`.

The benchmarks run on small boxes where the load client shares the cores with the gateway it
measures. aiohttp's client costs about 190 us of CPU per request here, as much as half of what
the gateway spends answering, so the figures measured the client. This one speaks just enough
HTTP/1.1 (one request in flight per connection, `Content-Length` bodies, as aiohttp's server
answers) to cost a few tens of microseconds per request. It refuses anything it does not
understand rather than guessing, so a miscount cannot pass silently.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

RequestMaker = Callable[[int], tuple[str, bytes]]  # request number -> (path, JSON body)


class ProtocolError(Exception):
    """The server's answer was not HTTP/1.1 with a Content-Length body."""


@dataclass(slots=True)
class Results:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list)  # 2xx bodies, when kept
    elapsed: float = 0.0


class _Connection(asyncio.Protocol):
    def __init__(self, done: Callable[[int, bytes], None], lost: Callable[[Exception], None]
                 ) -> None:
        self._done = done
        self._lost = lost
        self._buffer = bytearray()
        self._need: int | None = None  # header length + body length, once the head is in
        self._body_at = 0
        self._status = 0
        self.closing = False  # closed by us: the loss that follows is expected
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while True:
            if self._need is None:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
                parts = head[0].split(" ", 2)
                if len(parts) < 2 or parts[0] != "HTTP/1.1":
                    self._fail(ProtocolError(f"not an HTTP/1.1 status line: {head[0]!r}"))
                    return
                length = None
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length is None:
                    self._fail(ProtocolError("an answer without Content-Length"))
                    return
                self._status = int(parts[1])
                self._body_at = end + 4
                self._need = end + 4 + length
            if len(buffer) < self._need:
                return
            body = bytes(buffer[self._body_at: self._need])
            del buffer[: self._need]
            self._need = None
            self._done(self._status, body)

    def _fail(self, exc: Exception) -> None:
        self.close()
        self._lost(exc)

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self._lost(exc or ProtocolError("the server closed the connection"))


async def run(url: str, headers: dict[str, str], make: RequestMaker, total: int,
              concurrency: int, *, keep_bodies: bool = False) -> Results:
    """Send `total` POSTs over `concurrency` keep-alive connections, one in flight each."""
    split = urlsplit(url)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    loop = asyncio.get_running_loop()
    results = Results()
    next_number = 0
    finished = loop.create_future()
    outstanding = 0

    async def open_one() -> None:
        nonlocal outstanding
        sent_at = 0.0
        conn: _Connection

        def send() -> bool:
            nonlocal next_number, sent_at
            if next_number >= total:
                return False
            path, body = make(next_number)
            next_number += 1
            head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            sent_at = time.perf_counter()
            assert conn.transport is not None
            conn.transport.write(head + body)
            return True

        def done(status: int, body: bytes) -> None:
            nonlocal outstanding
            results.latencies.append(time.perf_counter() - sent_at)
            results.statuses[status] = results.statuses.get(status, 0) + 1
            if keep_bodies and 200 <= status < 300:
                results.bodies.append(body)
            if not send():
                conn.close()
                outstanding -= 1
                if outstanding == 0 and not finished.done():
                    finished.set_result(None)

        def lost(exc: Exception) -> None:
            if not finished.done():
                finished.set_exception(exc)

        _transport, conn = await loop.create_connection(lambda: _Connection(done, lost),
                                                        host, port)
        outstanding += 1
        if not send():
            conn.close()
            outstanding -= 1

    started = time.perf_counter()
    await asyncio.gather(*(open_one() for _ in range(concurrency)))
    if outstanding:
        await finished
    results.elapsed = time.perf_counter() - started
    if sum(results.statuses.values()) != total:
        raise ProtocolError(f"{sum(results.statuses.values())} answers for {total} requests")
    return results

"""Simulator capacity: submits per second through real ptys at zero latency, and 256 modems.

The simulator runs as `smsgw-sim run` in its own process (as the gateway would see it); this
process is a raw client: pyserial opens each symlink (termios set-up), then the fds are driven
with asyncio readers, one AT+CMGS conversation in flight per modem, like a real driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import serial

from drivers.pdu import encode_submit

SUBMIT_MODEMS = 32
SUBMIT_SECONDS = 5.0
BIG_POOL = 256


class RawModem:
    """One pty opened with pyserial and read with loop.add_reader (no threads)."""

    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, 115200, timeout=0)
        self.fd = self.port.fileno()
        self.buffer = bytearray()
        self.waiter: asyncio.Future[None] | None = None
        self.want = b""
        loop = asyncio.get_running_loop()
        loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        self.buffer += data
        if self.waiter is not None and not self.waiter.done() and self.want in self.buffer:
            self.waiter.set_result(None)

    async def command(self, data: bytes, until: bytes, wait: float = 10.0) -> bytes:
        self.want = until
        self.waiter = asyncio.get_running_loop().create_future()
        os.write(self.fd, data)
        if until not in self.buffer:
            await asyncio.wait_for(self.waiter, wait)
        end = self.buffer.index(until) + len(until)
        out = bytes(self.buffer[:end])
        del self.buffer[:end]
        return out

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.fd)
        self.port.close()


def start_sim(n: int, directory: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "run", "--modems", str(n), "--dir", str(directory),
         "--control", "none", "--latency", "0", "--report-delay", "0",
         "--vendor-urc-interval", "0"],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == b"ready":
            return proc
    raise RuntimeError("simulator did not start")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def init(modem: RawModem) -> None:
    await modem.command(b"ATE0\r", b"OK\r\n")
    await modem.command(b"AT+CMGF=0;+CMEE=1\r", b"OK\r\n")


async def submit_loop(modem: RawModem, pdu: bytes, length: int, deadline: float) -> int:
    count = 0
    cmd = f"AT+CMGS={length}\r".encode()
    while time.perf_counter() < deadline:
        await modem.command(cmd, b"> ")
        reply = await modem.command(pdu + b"\x1a", b"OK\r\n")
        if b"+CMGS:" not in reply:
            raise RuntimeError(f"unexpected reply {reply!r}")
        count += 1
    return count


async def submits_per_second(n: int, seconds: float) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_sim(n, Path(tmp))
        modems: list[RawModem] = []
        try:
            modems = [RawModem(str(Path(tmp) / f"modem{i}")) for i in range(n)]
            await asyncio.gather(*(init(m) for m in modems))
            part = encode_submit("+4915112345678", "Your code is 123456")[0]
            deadline = time.perf_counter() + seconds
            started = time.perf_counter()
            counts = await asyncio.gather(
                *(submit_loop(m, part.hex.encode(), part.tpdu_length, deadline) for m in modems)
            )
            elapsed = time.perf_counter() - started
            return sum(counts) / elapsed, rss_mib(proc.pid)
        finally:
            for m in modems:
                m.close()
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


async def big_pool(n: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        proc = start_sim(n, Path(tmp))
        startup = time.perf_counter() - started
        modems: list[RawModem] = []
        try:
            modems = [RawModem(str(Path(tmp) / f"modem{i}")) for i in range(n)]
            await asyncio.gather(*(init(m) for m in modems))
            part = encode_submit("+4915112345678", "hello")[0]
            deadline = time.perf_counter() + 2.0
            counts = await asyncio.gather(
                *(submit_loop(m, part.hex.encode(), part.tpdu_length, deadline) for m in modems)
            )
            answering = sum(1 for c in counts if c > 0)
            return startup, rss_mib(proc.pid), answering
        finally:
            for m in modems:
                m.close()
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


async def run() -> None:
    rate, rss = await submits_per_second(SUBMIT_MODEMS, SUBMIT_SECONDS)
    print(f"submits/s at zero latency, {SUBMIT_MODEMS} modems over ptys: {rate:,.0f} "
          f"(simulator RSS {rss:.0f} MiB)")
    startup, rss, answering = await big_pool(BIG_POOL)
    print(f"{BIG_POOL} modems in one process: started in {startup:.2f} s, RSS {rss:.0f} MiB, "
          f"{answering}/{BIG_POOL} answered submits")


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()

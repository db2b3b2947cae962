"""A daemon-like writer for the backup test: the real store, committing batches of messages
(each message, its parts and its first transition in one transaction) until told to stop.

    python -m tests.system.live_writer DB     prints "ready" after the first commit, then keeps
                                              writing until its stdin closes
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gateway.store import NewMessage, SqliteStore


async def write(db: Path) -> int:
    store = await SqliteStore.open(db)
    loop = asyncio.get_running_loop()
    stdin_closed = asyncio.Event()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def watch_stdin() -> None:
        await reader.read()
        stdin_closed.set()

    watcher = asyncio.create_task(watch_stdin())
    written = 0
    try:
        while not stdin_closed.is_set():
            batch = [
                NewMessage(to=f"+4477009{(written + i) % 100000:05d}", text="backup " * 30,
                           encoding="gsm7", segments=1 + (written + i) % 3)
                for i in range(20)
            ]
            await store.enqueue_many(batch)
            written += len(batch)
            if written == len(batch):
                print("ready", flush=True)
            await asyncio.sleep(0)
    finally:
        watcher.cancel()
        await store.close()
    print(f"written {written}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(write(Path(sys.argv[1]))))

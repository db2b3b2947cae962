"""The API rig (imported by the API tests as `apirig`): simulated modems on real ptys, the
gateway with its real HTTP server on a loopback port, API keys made the way `smsgw keys create`
makes them, an aiohttp client, and a local receiver for webhooks and callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import aiohttp
from aiohttp import web

from gateway.daemon import RuntimeOptions
from gateway.keys import Keyring, Scope, create_key
from gateway.modem_status import PoolOptions
from gateway.store.migrations import migrate
from tests.e2e.e2e_rig import Rig, e2e_settings
from tests.e2e.e2e_rig import eventually as _eventually

__all__ = ["ApiRig", "Captured", "Receiver", "eventually", "free_port", "numbers"]


async def eventually(probe: Callable[[], Any], *, within: float = 10.0, what: str = "condition"
                     ) -> Any:
    """Poll `probe` (sync or async) until it returns something truthy; fail after `within` s."""
    return await _eventually(probe, within=within, what=what)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def numbers(count: int, start: int = 1000) -> list[str]:
    """Distinct deliverable German mobile numbers (the simulator's operators own +4915x)."""
    return [f"+49151{start + i:08d}" for i in range(count)]


@dataclass(frozen=True, slots=True)
class Captured:
    method: str
    url: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    form: list[tuple[str, str]]


@dataclass
class Receiver:
    """A local HTTP server that records every request; `statuses` answer them in turn (the
    last one repeats)."""

    statuses: list[int] = field(default_factory=lambda: [200])
    requests: list[Captured] = field(default_factory=list)
    runner: web.AppRunner | None = None
    base: str = ""

    async def start(self) -> Receiver:
        async def handle(request: web.Request) -> web.Response:
            body = await request.read()
            form: list[tuple[str, str]] = []
            if request.content_type == "application/x-www-form-urlencoded":
                form = [(k, str(v)) for k, v in (await request.post()).items()]
            self.requests.append(Captured(request.method, str(request.url), request.path_qs,
                                          dict(request.headers), body, form))
            index = min(len(self.requests) - 1, len(self.statuses) - 1)
            return web.Response(status=self.statuses[index], text="ok")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    def url(self, path: str) -> str:
        return self.base + path

    def at(self, prefix: str) -> list[Captured]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


class ApiRig:
    """`await ApiRig(tmp).start()`: keys `admin`, `sender` (send), `reader` (read)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.rig = Rig(tmp)
        self.db = tmp / "smsgw.db"
        self.keys: dict[str, str] = {}
        self.session: aiohttp.ClientSession | None = None
        self.url = ""

    def make_key(self, name: str, scopes: frozenset[Scope], rate: float | None = None) -> str:
        conn = sqlite3.connect(self.db, isolation_level=None)
        try:
            migrate(conn)
            new = create_key(conn, Keyring.for_database(self.db), name, scopes, rate_limit=rate)
        finally:
            conn.close()
        self.keys[name] = new.key
        return new.key

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, tmp: Path, modems: int) -> AsyncIterator[Self]:
        """The rig started with `modems` simulated modems, closed on the way out."""
        rig = cls(tmp)
        try:
            await rig.start(modems)
            yield rig
        finally:
            await rig.close()

    async def start(self, modems: int = 2, *, rate: float = 1000.0, **sections: dict[str, Any]
                    ) -> ApiRig:
        await self.rig.start_sim(modems, control="127.0.0.1:0")
        self.make_key("admin", frozenset({Scope.ADMIN}))
        self.make_key("sender", frozenset({Scope.SEND}))
        self.make_key("reader", frozenset({Scope.READ}))
        merged: dict[str, dict[str, Any]] = {
            "server": {"listen": f"127.0.0.1:{free_port()}"},
            "api": {"rate_limit_per_second": rate},
            "webhooks": {"timeout_s": 3.0},
        }
        for name, values in sections.items():
            merged[name] = {**merged.get(name, {}), **values}
        options = RuntimeOptions(pool=PoolOptions.fast(), http=True, shutdown_grace=3.0)
        await self.rig.start_gateway(settings=e2e_settings(self.db, **merged), options=options)
        assert self.rig.gw.http_url is not None
        self.url = self.rig.gw.http_url
        self.session = aiohttp.ClientSession()
        return self

    @property
    def sim_control(self) -> str:
        url = self.rig.sim.control_url
        assert url is not None
        return url

    def auth(self, name: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}

    async def call(self, method: str, path: str, *, key: str | None = "admin",
                   headers: Mapping[str, str] | None = None, **kwargs: Any
                   ) -> tuple[int, Any, Mapping[str, str]]:
        """(status, parsed JSON or text, headers)."""
        assert self.session is not None
        all_headers = dict(self.auth(key) if key else {})
        all_headers.update(headers or {})
        async with self.session.request(method, self.url + path, headers=all_headers,
                                        **kwargs) as response:
            raw = await response.read()
            body: Any = raw.decode()
            if response.content_type in ("application/json", "application/problem+json"):
                body = json.loads(raw)
            return response.status, body, response.headers

    async def send(self, to: str, text: str, key: str = "admin", **fields: Any) -> dict[str, Any]:
        status, body, _ = await self.call("POST", "/api/v1/messages", key=key,
                                          json={"to": to, "text": text, **fields})
        assert status == 202, body
        assert isinstance(body, dict)
        return body

    async def wait_status(self, message_id: str, wanted: set[str], within: float = 15.0
                          ) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            status, body, _ = await self.call("GET", f"/api/v1/messages/{message_id}")
            assert status == 200, body
            return body if body["status"] in wanted else None

        found: dict[str, Any] = await eventually(probe, within=within, what=f"message {wanted}")
        return found

    async def handset_sends(self, sender: str, modem: str, text: str) -> None:
        """A handset texts a SIM, through the simulator's own control API."""
        assert self.session is not None
        async with self.session.post(f"{self.sim_control}/inbound",
                                     json={"from": sender, "to": modem, "text": text}) as r:
            assert r.status == 202, await r.text()

    async def twilio_inbound(self, receiver: Receiver, url_path: str, sender: str,
                             modem: str, text: str) -> Captured:
        """A Twilio-format `message.inbound` webhook to `receiver` at `url_path`, then one
        handset message to `modem`: the webhook call it made."""
        status, _, _ = await self.call("POST", "/api/v1/webhooks", json={
            "url": receiver.url(url_path), "events": ["message.inbound"], "format": "twilio"})
        assert status == 201
        await self.handset_sends(sender, modem, text)
        prefix = url_path.split("?", maxsplit=1)[0]
        calls = await eventually(lambda: receiver.at(prefix) or None, what="twilio inbound")
        assert len(calls) == 1, calls
        call: Captured = calls[0]
        return call

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None
        await self.rig.close()


async def settle(seconds: float = 0.05) -> None:
    await asyncio.sleep(seconds)

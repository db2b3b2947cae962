"""End-to-end rig for messaging: simulated modems and handsets on real ptys, the gateway on
them, `Messaging` wired in as the daemon is asked to wire it (the policy gate on the one door,
the inbound processor, the HTTP routes), and an aiohttp client with an admin API key."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from gateway.config import Settings
from gateway.daemon import Gateway, RuntimeOptions
from gateway.http.api_messaging import MESSAGING, add_routes
from gateway.http.app import build_app
from gateway.http.status_page import SESSIONS, register_status_page
from gateway.keys import Keyring, Scope, create_key
from gateway.messaging import Messaging, MessagingConfig, secret_for_database
from gateway.modem_status import PoolOptions
from gateway.store.migrations import migrate
from tests.e2e.e2e_rig import Rig, e2e_settings, eventually
from tests.messaging.msgrig import make_submitter

__all__ = ["MessagingE2E", "eventually"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MessagingE2E:
    def __init__(self, tmp: Path) -> None:
        self.rig = Rig(tmp)
        self.db = tmp / "smsgw.db"
        self.key = ""
        self.url = ""
        self.session: aiohttp.ClientSession | None = None
        self.runner: web.AppRunner | None = None
        self.messaging: Messaging | None = None

    async def start(self, config: MessagingConfig, modems: int = 2) -> MessagingE2E:
        await self.rig.start_sim(modems)
        conn = sqlite3.connect(self.db, isolation_level=None)
        try:
            migrate(conn)
            self.key = create_key(conn, Keyring.for_database(self.db), "admin",
                                  frozenset({Scope.ADMIN})).key
        finally:
            conn.close()
        sections: dict[str, Any] = {"api": {"rate_limit_per_second": 1000.0},
                                    "server": {"listen": f"127.0.0.1:{free_port()}"}}
        if "messaging" in Settings.model_fields:  # the daemon builds Messaging from them
            sections["messaging"] = config.model_dump(mode="json", exclude_defaults=True)
        settings = e2e_settings(self.db, **sections)
        gw: Gateway = await self.rig.start_gateway(settings=settings, options=RuntimeOptions(
            pool=PoolOptions.fast(), http=False, shutdown_grace=3.0))
        wired = getattr(gw, "messaging", None)
        if wired is None:  # the daemon does not build it yet: wire it as it is asked to
            messaging = Messaging(gw.store, config, numbers=gw.numbers.policy,
                                  secret=secret_for_database(self.db))
            gw.submitter = make_submitter(gw.scheduler, gw.numbers, messaging,
                                          settings.api.max_segments)
            messaging.bind(gw.submit)
            messaging.start()
            gw.messaging = messaging
            self.messaging = messaging
        else:
            messaging = wired
        app = build_app(gw)
        if SESSIONS not in app:  # the status page (the reports page logs in through it)
            register_status_page(app)
        if MESSAGING not in app:
            add_routes(app, messaging)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        self.session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.key}"},
                                             cookie_jar=aiohttp.CookieJar(unsafe=True))
        return self

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        assert self.session is not None
        async with self.session.request(method, self.url + path, **kwargs) as response:
            raw = await response.read()
            if response.content_type.endswith("json"):
                return response.status, json.loads(raw)
            return response.status, raw.decode()

    def handset_texts(self, number: str) -> list[str]:
        return self.rig.received_texts(number)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.messaging is not None:
            await self.messaging.close()
        await self.rig.close()

"""The status page (`web/`, served at `/`), its session-guarded JSON, and the health API.

`register_status_page(app)` is called by `build_app` after `register_routes` (it uses the API's
key store and problem middleware). It owns the `HealthMonitor`, started and stopped with the
app like the webhook dispatcher, and adds:

| route | who | what |
|---|---|---|
| `GET /`, `/app.js`, `/app.css`, `/favicon.svg` | anyone | the page (empty until logged in) |
| `POST /ui/login` `{"key": ...}` | admin key | sets the session cookie |
| `POST /ui/logout` | session + CSRF | ends the session |
| `GET /ui/api/session` | session | the key's name and the CSRF token |
| `GET /ui/api/overview` | session | the pool at a glance (`gateway.health.overview`) |
| `GET /ui/api/inbound/{id}` | session | one inbound message with its sender in full |
| `POST /ui/api/modems/{id}/{action}` | session + CSRF | pause, resume, reset, balance |
| `GET /api/v1/status` | read | the same overview, for `smsgw status` |
| `GET /api/v1/events?after=SEQ` | read | recent events, for `smsgw tail` |
| `GET /api/v1/health/modems/{id}/history?hours=H` | read | the modem's health history |
| `POST /api/v1/health/modems/{id}/balance` | admin | ask the SIM's balance by USSD now |

The page is plain files: no build step, nothing from a CDN, and a Content-Security-Policy that
allows only this origin's own script and style, so even a bug that put message text into HTML
could not run it.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.health import BalanceUnavailableError, HealthConfig, HealthMonitor
from gateway.health.overview import build_overview
from gateway.keys import Scope
from gateway.logging import log_event
from gateway.store.ids import is_id

from . import api_modems, views
from .api_messages import json_response
from .app import RUNTIME
from .auth import route
from .context import API
from .problems import ProblemError
from .session import (
    COOKIE,
    LoginThrottle,
    SessionStore,
    clear_cookie,
    is_admin,
    require_session,
    set_cookie,
)

_LOG = logging.getLogger(__name__)

HEALTH: web.AppKey[HealthMonitor] = web.AppKey("smsgw_health", HealthMonitor)
SESSIONS: web.AppKey[SessionStore] = web.AppKey("smsgw_sessions", SessionStore)
THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("smsgw_login_throttle", LoginThrottle)
WEB_ROOT: web.AppKey[Path] = web.AppKey("smsgw_web_root", Path)

ASSETS = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "app.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
MAX_LOGIN_BODY = 4096


def find_web_root() -> Path | None:
    """`web/` beside the packages (a checkout or an editable install), else the installed
    copy under `<prefix>/share/smsgw/web`."""
    for candidate in (Path(__file__).resolve().parents[2] / "web",
                      Path(sys.prefix) / "share" / "smsgw" / "web"):
        if (candidate / "index.html").is_file():
            return candidate
    return None


def _no_store(response: web.StreamResponse) -> web.StreamResponse:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- the page ----------------------------------------------------------------------------------


@route(auth="self")
async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info.get("name") or "index.html"
    root = request.app.get(WEB_ROOT)
    if name not in ASSETS or root is None:
        raise ProblemError("not-found", "no such page" if root else
                           "the status page files (web/) are not installed")
    response = web.Response(body=(root / name).read_bytes(), content_type=ASSETS[name],
                            charset="utf-8" if name != "favicon.svg" else None)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return _no_store(response)


@route(auth="self")
async def login(request: web.Request) -> web.StreamResponse:
    ctx = request.app[API]
    if request.content_type != "application/json":
        raise ProblemError("unsupported-media-type", "send Content-Type: application/json")
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise ProblemError("forbidden", "cross-origin login refused")
    throttle = request.app[THROTTLE]
    address = request.remote or "?"
    wait = throttle.wait(address)
    if wait > 0:
        retry = max(1, math.ceil(wait))
        raise ProblemError("rate-limited", f"too many failed logins; try again in {retry} s",
                           headers={"Retry-After": str(retry)})
    raw = await request.content.read(MAX_LOGIN_BODY + 1)
    try:
        body = json.loads(raw) if len(raw) <= MAX_LOGIN_BODY else None
    except ValueError:
        body = None
    key = body.get("key") if isinstance(body, dict) else None
    if not isinstance(key, str) or not key:
        raise ProblemError("validation-error", "send {\"key\": \"smsgw_live_...\"}", field="key")
    record = await ctx.access.authenticator.lookup(key.strip())
    if record is None or not is_admin(record):
        throttle.failed(address)
        log_event(_LOG, "ui_login_refused", level=logging.WARNING, remote=request.remote,
                  key=record.name if record else None)
        if record is None:
            raise ProblemError("unauthorized", "unknown or revoked API key")
        raise ProblemError("forbidden", "the status page needs a key with the admin scope")
    token, session = request.app[SESSIONS].create(record)
    log_event(_LOG, "ui_login", key=record.name, remote=request.remote)
    response = json_response({"key": session.key_name, "csrf": session.csrf})
    set_cookie(response, request, token)
    return _no_store(response)


@route(auth="self")
async def logout(request: web.Request) -> web.StreamResponse:
    store = request.app[SESSIONS]
    await require_session(request, store, write=True)
    store.drop(request.cookies.get(COOKIE))
    response = json_response({"logged_out": True})
    clear_cookie(response, request)
    return _no_store(response)


@route(auth="self")
async def session_info(request: web.Request) -> web.StreamResponse:
    session = await require_session(request, request.app[SESSIONS])
    return _no_store(json_response({"key": session.key_name, "csrf": session.csrf}))


async def _overview(request: web.Request) -> dict[str, Any]:
    runtime = request.app[RUNTIME]
    probe = getattr(runtime.pool, "is_paused", None)
    return await build_overview(
        request.app[HEALTH],
        summary=runtime.health_summary(),
        prefer_on_net=runtime.settings.scheduler.prefer_on_net,
        is_paused=probe if callable(probe) else None,
    )


@route(auth="self")
async def ui_overview(request: web.Request) -> web.StreamResponse:
    await require_session(request, request.app[SESSIONS])
    return _no_store(json_response(await _overview(request)))


@route(auth="self")
async def ui_inbound(request: web.Request) -> web.StreamResponse:
    await require_session(request, request.app[SESSIONS])
    value = request.match_info["id"]
    found = await request.app[RUNTIME].store.get_inbound(value.upper()) if is_id(value) else None
    if found is None:
        raise ProblemError("not-found", f"no inbound message {value!r}")
    return _no_store(json_response(views.inbound(found)))


@route(auth="self")
async def ui_modem_action(request: web.Request) -> web.StreamResponse:
    await require_session(request, request.app[SESSIONS], write=True)
    if request.match_info["action"] == "balance":
        return _no_store(await _balance(request))
    return _no_store(await api_modems.modem_action(request))


# --- the health API ----------------------------------------------------------------------------


@route(Scope.READ)
async def status(request: web.Request) -> web.Response:
    return json_response(await _overview(request))


@route(Scope.READ)
async def events(request: web.Request) -> web.Response:
    try:
        after = int(request.query.get("after", "-1"))
        limit = min(max(int(request.query.get("limit", "200")), 1), 1000)
    except ValueError:
        raise ProblemError("validation-error", "after and limit are integers") from None
    items, head, missed = request.app[HEALTH].events_after(max(after, 0), limit)
    if after < 0:  # a follower's first call: where the feed stands now, nothing older
        items, missed = [], 0
    # `next` is the `after` of the following call (back to the head after a daemon restart)
    following = items[-1].seq if items else min(max(after, 0), head)
    return json_response({"events": [e.as_json() for e in items], "next": following,
                          "missed": missed})


@route(Scope.READ)
async def modem_history(request: web.Request) -> web.Response:
    modem_id = request.match_info["id"]
    try:
        hours = float(request.query.get("hours", "6"))
    except ValueError:
        raise ProblemError("validation-error", "hours is a number", field="hours") from None
    if not 0 < hours <= 24 * 31:
        raise ProblemError("validation-error", "hours: more than 0, at most 744", field="hours")
    rows = await request.app[HEALTH].history(modem_id, hours)
    return json_response({"id": modem_id, "samples": [s.as_json() for s in rows]})


@route(Scope.ADMIN)
async def modem_balance(request: web.Request) -> web.Response:
    return await _balance(request)


async def _balance(request: web.Request) -> web.Response:
    modem_id = request.match_info["id"]
    if not any(s.modem_id == modem_id for s in request.app[RUNTIME].pool.statuses()):
        raise ProblemError("not-found", f"no modem {modem_id!r}")
    try:
        record = await request.app[HEALTH].check_balance(modem_id)
    except BalanceUnavailableError as exc:
        raise ProblemError("unavailable", str(exc)) from None
    return json_response(record.as_json())


# --- wiring ------------------------------------------------------------------------------------


async def _monitor(app: web.Application) -> AsyncIterator[None]:
    monitor = app[HEALTH]
    await monitor.load()
    monitor.start()
    try:
        yield
    finally:
        await monitor.close()


def register_status_page(
    app: web.Application,
    *,
    config: HealthConfig | None = None,
    web_root: Path | None = None,
) -> None:
    """Add the status page, its session routes and the health API; own the health monitor.
    `config` defaults to the settings' `[health]` section."""
    if HEALTH in app:
        return
    runtime = app[RUNTIME]
    configured = getattr(runtime.settings, "health", None)
    if config is None:
        config = configured if isinstance(configured, HealthConfig) else HealthConfig()
    app[HEALTH] = HealthMonitor(runtime.store, runtime.pool, config)
    root = web_root or find_web_root()
    if root is None:
        _LOG.warning("status page files (web/) not found: / answers 404")
    else:
        app[WEB_ROOT] = root
    app[SESSIONS] = SessionStore(app[API].api)
    app[THROTTLE] = LoginThrottle()
    app.cleanup_ctx.append(_monitor)
    r = app.router
    r.add_get("/", asset, allow_head=False)
    r.add_get("/{name:app\\.js|app\\.css|favicon\\.svg}", asset, allow_head=False)
    r.add_post("/ui/login", login)
    r.add_post("/ui/logout", logout)
    r.add_get("/ui/api/session", session_info, allow_head=False)
    r.add_get("/ui/api/overview", ui_overview, allow_head=False)
    r.add_get("/ui/api/inbound/{id}", ui_inbound, allow_head=False)
    r.add_post("/ui/api/modems/{id}/{action}", ui_modem_action)
    r.add_get("/api/v1/status", status, allow_head=False)
    r.add_get("/api/v1/events", events, allow_head=False)
    r.add_get("/api/v1/health/modems/{id}/history", modem_history, allow_head=False)
    r.add_post("/api/v1/health/modems/{id}/balance", modem_balance)


__all__ = ["HEALTH", "SESSIONS", "find_web_root", "register_status_page"]

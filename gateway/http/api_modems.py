"""`/api/v1/modems` (state, identity, health, counters, limits; pause/resume/reset) and
`/api/v1/numbers/{number}` (the offline HLR-style look-up with learned reachability).

Modem actions are asked of the pool (`ModemPool.pause/resume/reset(modem_id)`, sync or async,
returning whether the modem took the action).
"""

from __future__ import annotations

import inspect
from dataclasses import asdict
from typing import Any

from aiohttp import web

from gateway.keys import Scope
from gateway.modem_status import ModemStatus

from . import views
from .api_messages import PREFIX, json_response
from .auth import route
from .context import API, ApiContext
from .problems import ProblemError

ACTIONS = ("pause", "resume", "reset")


def _paused(ctx: ApiContext, modem_id: str | None) -> bool:
    probe = getattr(ctx.runtime.pool, "is_paused", None)
    if modem_id is None or probe is None:
        return False
    return bool(probe(modem_id))


def _limits(ctx: ApiContext, modem_id: str | None) -> dict[str, int | None]:
    supervisor = ctx.runtime.pool.supervisor(modem_id) if modem_id else None
    if supervisor is None:
        return {"per_minute": None, "per_day": None, "unique_recipients_per_month": None}
    return dict(asdict(supervisor.spec.limits))


def _view(ctx: ApiContext, status: ModemStatus) -> dict[str, Any]:
    return views.modem(status, limits=_limits(ctx, status.modem_id),
                       paused=_paused(ctx, status.modem_id))


def _find(ctx: ApiContext, modem_id: str) -> ModemStatus:
    for status in ctx.runtime.pool.statuses():
        if status.modem_id == modem_id:
            return status
    raise ProblemError("not-found", f"no modem {modem_id!r}")


@route(Scope.READ)
async def list_modems(request: web.Request) -> web.Response:
    ctx = request.app[API]
    return json_response({"modems": [_view(ctx, s) for s in ctx.runtime.pool.statuses()]})


@route(Scope.READ)
async def get_modem(request: web.Request) -> web.Response:
    ctx = request.app[API]
    return json_response(_view(ctx, _find(ctx, request.match_info["id"])))


@route(Scope.ADMIN)
async def modem_action(request: web.Request) -> web.Response:
    ctx = request.app[API]
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise ProblemError("not-found", f"no modem action {action!r}: pause, resume or reset")
    status = _find(ctx, request.match_info["id"])
    assert status.modem_id is not None
    result = getattr(ctx.runtime.pool, action)(status.modem_id)
    if inspect.isawaitable(result):
        result = await result
    after = _find(ctx, status.modem_id)
    return json_response({"id": status.modem_id, "action": action,
                          "accepted": result is not False, "state": after.state.value}, 202)


@route(Scope.READ)
async def lookup_number(request: web.Request) -> web.Response:
    ctx = request.app[API]
    number = request.match_info["number"]
    if not number.strip() or len(number) > 40:
        raise ProblemError("validation-error", "number: 1-40 characters", field="number")
    found = await ctx.runtime.numbers.lookup(number)
    return json_response(found.to_json())


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/modems", list_modems, allow_head=False)
    r.add_get(f"{PREFIX}/modems/{{id}}", get_modem, allow_head=False)
    r.add_post(f"{PREFIX}/modems/{{id}}/{{action}}", modem_action)
    r.add_get(f"{PREFIX}/numbers/{{number}}", lookup_number, allow_head=False)


__all__ = ["ACTIONS", "add_routes"]

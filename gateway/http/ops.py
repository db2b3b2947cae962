"""`/readyz` (store open and at least one modem ready: a load balancer's question) and
`/metrics` (Prometheus text, from the gateway's own registry)."""

from __future__ import annotations

from aiohttp import web

from gateway.keys import Scope
from gateway.metrics import CONTENT_TYPE

from .api_messages import json_response
from .auth import route
from .context import API


@route()
async def readyz(request: web.Request) -> web.Response:
    ctx = request.app[API]
    runtime = ctx.runtime
    ready_modems = len(runtime.pool.ready)
    if runtime.closing:
        store, detail = "closing", "the gateway is shutting down"
    else:
        store, detail = "open", "ready" if ready_modems else "no modem is ready to send"
    ready = store == "open" and ready_modems > 0
    return json_response({"ready": ready, "store": store, "modems_ready": ready_modems,
                          "detail": detail}, 200 if ready else 503)


@route(Scope.READ)
async def metrics(request: web.Request) -> web.Response:
    ctx = request.app[API]
    await ctx.metrics.refresh(ctx.runtime.store, ctx.runtime.pool)
    response = web.Response(body=ctx.metrics.render())
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/readyz", readyz, allow_head=False)
    app.router.add_get("/metrics", metrics, allow_head=False)


__all__ = ["add_routes"]

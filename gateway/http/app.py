"""The aiohttp application: one `web.Application` per running gateway.

The running `Gateway` is stored under the typed key `RUNTIME`, so handlers reach the store, the
scheduler and the pool as `request.app[RUNTIME]`. The daemon owns startup and shutdown order
(the HTTP server stops accepting before the pool stops claiming); route modules only add routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.daemon import Gateway

RUNTIME: web.AppKey[Gateway] = web.AppKey("runtime")


async def healthz(request: web.Request) -> web.Response:
    """Liveness plus a summary: 200 while the gateway runs (store open, not shutting down), 503
    otherwise. `can_send` says whether any modem is ready, for alerting rather than restarts."""
    runtime = request.app[RUNTIME]
    summary = runtime.health_summary()
    status = 200 if summary["ok"] else 503
    return web.json_response(summary, status=status)


def build_app(runtime: Gateway) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    from gateway.http.routes import register_routes  # the API (issue 6); imports RUNTIME

    register_routes(app)
    from gateway.http.status_page import register_status_page  # needs the API context

    register_status_page(app)
    return app


__all__ = ["RUNTIME", "build_app", "healthz"]

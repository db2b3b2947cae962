"""`/api/v1/webhooks`: register, list, inspect and delete webhook endpoints (admin scope).

The signing secret is in the answer to the POST and nowhere else. A URL pointing at a
link-local or cloud-metadata address is refused (unless `[webhooks] allow_private_targets`).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from aiohttp import web

from gateway.keys import Scope
from gateway.store.api_models import WebhookEndpoint
from gateway.webhooks.signing import new_secret

from . import views
from .api_messages import PREFIX, check_callback, json_response
from .auth import current_key, route
from .body import parse_json, read_body, require_json
from .context import API, ApiContext
from .problems import ProblemError
from .schemas import WebhookIn

MAX_BODY = 16 * 1024


async def _endpoint(ctx: ApiContext, request: web.Request) -> WebhookEndpoint:
    endpoint_id = request.match_info["id"]
    found = await ctx.api.get_endpoint(endpoint_id) if len(endpoint_id) <= 64 else None
    if found is None:
        raise ProblemError("not-found", f"no webhook {endpoint_id!r}")
    return found


@route(Scope.ADMIN)
async def create_webhook(request: web.Request) -> web.Response:
    ctx = request.app[API]
    require_json(request)
    body = parse_json(WebhookIn, await read_body(request, MAX_BODY))
    check_callback(ctx, body.url, "url")
    endpoint = await ctx.api.add_endpoint(WebhookEndpoint(
        id="wh_" + secrets.token_hex(10),
        url=body.url,
        events=tuple(dict.fromkeys(body.events)),
        format=body.format,
        secret=new_secret(),
        api_key=current_key(request).name,
        description=body.description,
        enabled=True,
        disabled_reason=None,
        created_at=datetime.now(UTC),
    ))
    if ctx.dispatcher is not None:
        ctx.dispatcher.notify()
    answer = views.webhook(endpoint)
    answer["secret"] = endpoint.secret
    return json_response(answer, 201, {"Location": f"{PREFIX}/webhooks/{endpoint.id}"})


@route(Scope.ADMIN)
async def list_webhooks(request: web.Request) -> web.Response:
    ctx = request.app[API]
    return json_response({"webhooks": [views.webhook(e) for e in await ctx.api.list_endpoints()]})


@route(Scope.ADMIN)
async def get_webhook(request: web.Request) -> web.Response:
    ctx = request.app[API]
    return json_response(views.webhook(await _endpoint(ctx, request)))


@route(Scope.ADMIN)
async def webhook_deliveries(request: web.Request) -> web.Response:
    ctx = request.app[API]
    endpoint = await _endpoint(ctx, request)
    found = await ctx.api.list_deliveries(endpoint.id, 100)
    return json_response({"deliveries": [views.delivery(d) for d in found]})


@route(Scope.ADMIN)
async def delete_webhook(request: web.Request) -> web.Response:
    ctx = request.app[API]
    endpoint = await _endpoint(ctx, request)
    await ctx.api.delete_endpoint(endpoint.id, datetime.now(UTC))
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(f"{PREFIX}/webhooks", create_webhook)
    r.add_get(f"{PREFIX}/webhooks", list_webhooks, allow_head=False)
    r.add_get(f"{PREFIX}/webhooks/{{id}}", get_webhook, allow_head=False)
    r.add_get(f"{PREFIX}/webhooks/{{id}}/deliveries", webhook_deliveries, allow_head=False)
    r.add_delete(f"{PREFIX}/webhooks/{{id}}", delete_webhook)


__all__ = ["add_routes"]

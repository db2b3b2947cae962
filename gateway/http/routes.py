"""Everything the HTTP API adds to the gateway's app: `register_routes(app)`, called once by
`build_app` after it stored the runtime under `RUNTIME`.

It installs the shared context (`API`), the two middlewares (problems outermost, then
authentication), the routes of each module, and the app-owned background work: the webhook
dispatcher with its aiohttp ClientSession starts with the app and stops with it
(`cleanup_ctx`), after the server stopped accepting requests.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.keys import Keyring
from gateway.metrics import GatewayMetrics
from gateway.store.sqlite_api import ApiStore
from gateway.webhooks.dispatcher import WebhookDispatcher, WebhookOptions

from . import api_messages, api_messaging, api_modems, api_webhooks, docs, kannel, ops, twilio
from .app import RUNTIME
from .auth import Access, Authenticator, RateLimiter, auth_middleware, route_info
from .context import API, ApiContext, Limits
from .idempotency import Idempotency
from .problems import Renderers, problem_middleware

_LOG = logging.getLogger(__name__)


def _keyring(runtime_settings: object) -> Keyring | None:
    db_path = getattr(runtime_settings, "db_path", None)
    if db_path is None:
        return None
    try:
        return Keyring.for_database(db_path)
    except (OSError, ValueError) as exc:
        _LOG.warning("no keyring (%s): Twilio-signed callbacks cannot be sent", exc)
        return None


def _metrics(runtime: object) -> GatewayMetrics:
    """The gateway's own metrics when the runtime keeps them (so the worker can observe submit
    times), else a registry for this app."""
    found = getattr(runtime, "metrics", None)
    return found if isinstance(found, GatewayMetrics) else GatewayMetrics()


def register_routes(app: web.Application) -> None:
    runtime = app[RUNTIME]
    settings = runtime.settings
    api = ApiStore(runtime.store)
    options = WebhookOptions.from_settings(settings)
    limits = Limits(max_batch=min(settings.api.max_batch, 10_000),
                    max_segments=settings.api.max_segments)
    ctx = ApiContext(
        runtime=runtime,
        api=api,
        access=Access(Authenticator(api), RateLimiter(settings.api.rate_limit_per_second)),
        idempotency=Idempotency(api),
        metrics=_metrics(runtime),
        keyring=_keyring(settings),
        webhook_options=options,
        limits=limits,
    )
    app[API] = ctx
    renderers = Renderers(
        by_flavour={"twilio": twilio.render_error, "kannel": kannel.render_error},
        flavour_of=lambda request: route_info(request).flavour,
    )
    app.middlewares.append(problem_middleware(renderers))
    app.middlewares.append(auth_middleware(ctx.access))
    for module in (api_messages, api_modems, api_webhooks, ops, docs, twilio, kannel):
        module.add_routes(app)
    api_messaging.add_routes(app)  # runtime.messaging: consent, campaigns, OTP, reports...
    app.cleanup_ctx.append(_webhooks)
    app.on_startup.append(_warn_plain_http)


async def _webhooks(app: web.Application) -> AsyncIterator[None]:
    ctx = app[API]
    runtime = ctx.runtime
    dispatcher = WebhookDispatcher(
        ctx.api, ctx.webhook_options, keyring=ctx.keyring, modems=runtime.pool.statuses,
        metrics=ctx.metrics,
    )
    await dispatcher.start()
    ctx.dispatcher = dispatcher
    runtime.store.add_transition_listener(dispatcher.notify)
    try:
        yield
    finally:
        ctx.dispatcher = None
        await dispatcher.close()


async def _warn_plain_http(app: web.Application) -> None:
    server = app[RUNTIME].settings.server
    if not server.loopback_only and server.tls_cert is None:
        _LOG.warning(
            "the HTTP API listens on %s without TLS: API keys and message text cross the "
            "network in clear; set [server] tls_cert/tls_key or listen on 127.0.0.1",
            server.listen,
        )


__all__ = ["register_routes"]

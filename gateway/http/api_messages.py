"""`/api/v1/messages` and `/api/v1/inbound`: send (one or a batch), read, list, cancel.

An accepted message is committed before the 202 leaves (the store's group commit); a refused
one is a problem naming the field. A batch is answered item by item, in order: a bad item is
refused on its own line and does not sink the others.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from gateway.keys import Scope
from gateway.store.api_models import ApiKeyRecord
from gateway.store.errors import NotCancelableError, NotFoundError
from gateway.store.ids import is_id
from gateway.store.models import InboundQuery, MessageQuery
from gateway.submit import OutgoingMessage
from gateway.webhooks.targets import TargetRefusedError, check_target

from . import views
from .auth import current_key, route
from .body import parse_json, read_body, require_json
from .context import API, ApiContext
from .idempotency import key_of, request_hash
from .problems import ProblemError, field_errors, from_validation
from .schemas import BatchIn, InboundListQuery, MessageIn, MessageListQuery
from .sending import Accepted, Outcome, Rejected, number_lookup, send, with_key

PREFIX = "/api/v1"
ID = r"[^/]{1,64}(?<!batch)"  # a message id; never the `batch` route

def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    return web.Response(body=views.dumps(data), status=status, headers=headers,
                        content_type="application/json")


def outgoing(item: MessageIn, key: ApiKeyRecord, now: datetime) -> OutgoingMessage:
    send_at = item.send_at.astimezone(UTC) if item.send_at is not None else None
    expires = None
    if item.validity is not None:
        expires = max(send_at or now, now) + timedelta(seconds=item.validity)
    return OutgoingMessage(
        to=item.to,
        text=item.text,
        lane=item.priority,
        sender=key.name,
        api_key=key.name,
        category=item.category,
        send_at=send_at,
        expires_at=expires,
        status_callback=item.status_callback,
        metadata=item.metadata,
    )


def check_callback(ctx: ApiContext, url: str | None, field: str = "status_callback") -> None:
    if url is None:
        return
    try:
        check_target(url, allow_private=ctx.webhook_options.allow_private_targets)
    except TargetRefusedError as exc:
        raise ProblemError("target-refused", f"{field}: {exc}", field=field) from None


# --- sending ---------------------------------------------------------------------------------


@route(Scope.SEND)
async def post_message(request: web.Request) -> web.Response:
    ctx = request.app[API]
    key = current_key(request)
    require_json(request)
    raw = await read_body(request, ctx.limits.single_body)
    idem = key_of(request)
    digest = request_hash("messages", raw) if idem is not None else None
    if idem is not None and digest is not None:
        replay = await ctx.idempotency.replay(key.name, "messages", idem, digest)
        if replay is not None:
            return replay
    item = parse_json(MessageIn, raw)
    check_callback(ctx, item.status_callback)
    message = with_key(outgoing(item, key, datetime.now(UTC)), idem, digest)
    (outcome,) = await send(ctx, [message], "api")
    if isinstance(outcome, Rejected):
        raise outcome.problem()
    found = number_lookup(ctx, outcome.message.to)  # cached: the look-up the submit made
    response = json_response(
        views.accepted(outcome.message, found, replayed=not outcome.created), 202,
        {"Location": f"{PREFIX}/messages/{outcome.message.id}"},
    )
    if idem is not None and digest is not None:
        await ctx.idempotency.remember(key.name, "messages", idem, digest, response)
    return response


def _batch_items(ctx: ApiContext, raw: bytes) -> list[MessageIn | ProblemError]:
    """Each item parsed on its own when the batch as a whole does not validate."""
    try:
        batch = BatchIn.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # an item that is an object with bad fields is refused on its own line; anything
        # else (not an object, no list, too many) is the whole request's fault
        per_item = all(
            len(e["loc"]) >= 3 and e["loc"][0] == "messages" and isinstance(e["loc"][1], int)
            for e in errors
        )
        if not per_item:
            raise from_validation(exc) from None
        items = json.loads(raw)["messages"]
    else:
        if len(batch.messages) > ctx.limits.max_batch:
            raise ProblemError("validation-error",
                               f"at most {ctx.limits.max_batch} messages in one batch",
                               field="messages")
        return list(batch.messages)
    if len(items) > ctx.limits.max_batch:
        raise ProblemError("validation-error",
                           f"at most {ctx.limits.max_batch} messages in one batch",
                           field="messages")
    out: list[MessageIn | ProblemError] = []
    for i, item in enumerate(items):
        try:
            out.append(MessageIn.model_validate_json(json.dumps(item)))
        except ValidationError as exc:
            problem = from_validation(exc, ("messages", i))
            out.append(ProblemError("validation-error", problem.detail,
                                    errors=field_errors(exc, ("messages", i))))
    return out


@route(Scope.SEND)
async def post_batch(request: web.Request) -> web.Response:
    ctx = request.app[API]
    key = current_key(request)
    require_json(request)
    raw = await read_body(request, ctx.limits.batch_body)
    idem = key_of(request)
    digest = request_hash("batch", raw) if idem is not None else None
    if idem is not None and digest is not None:
        replay = await ctx.idempotency.replay(key.name, "batch", idem, digest)
        if replay is not None:
            return replay
    if not raw.strip():
        raise ProblemError("invalid-json", "the body is empty: send a JSON object")
    items = _batch_items(ctx, raw)
    now = datetime.now(UTC)
    results: list[Outcome | ProblemError | MessageIn] = list(items)  # replaced below
    to_send: list[tuple[int, OutgoingMessage]] = []
    for i, item in enumerate(items):
        if isinstance(item, ProblemError):
            continue
        try:
            check_callback(ctx, item.status_callback, f"messages[{i}].status_callback")
        except ProblemError as exc:
            results[i] = exc
            continue
        message = outgoing(item, key, now)
        if idem is not None:
            message = with_key(message, f"{idem}#{i}", digest)
        to_send.append((i, message))
    if to_send:
        outcomes = await send(ctx, [m for _i, m in to_send], "batch")
        for (i, _m), outcome in zip(to_send, outcomes, strict=True):
            results[i] = outcome
    lines: list[dict[str, Any]] = []
    accepted = 0
    for i, result in enumerate(results):
        if isinstance(result, Accepted):
            accepted += 1
            lines.append({"index": i, "accepted": True, "message": views.summary(
                result.message, replayed=not result.created)})
            continue
        if isinstance(result, MessageIn):  # pragma: no cover - every item was sent
            raise AssertionError("batch item without an outcome")
        problem = result.problem() if isinstance(result, Rejected) else result
        if isinstance(result, Rejected) and problem.field is not None:
            problem.field = f"messages[{i}].{problem.field}"
        lines.append({"index": i, "accepted": False, "error": problem.body()})
    response = json_response(
        {"accepted": accepted, "refused": len(results) - accepted, "messages": lines}, 202
    )
    if idem is not None and digest is not None:
        await ctx.idempotency.remember(key.name, "batch", idem, digest, response)
    return response


# --- reading and canceling ---------------------------------------------------------------------


def _query(model: type[MessageListQuery] | type[InboundListQuery], request: web.Request) -> Any:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise from_validation(exc) from None


def _cursor(cursor: str | None) -> str | None:
    if cursor is not None and not is_id(cursor):
        raise ProblemError("validation-error", "cursor: not a cursor from an earlier page",
                           field="cursor")
    return cursor.upper() if cursor else None


@route(Scope.READ)
async def list_messages(request: web.Request) -> web.Response:
    ctx = request.app[API]
    query: MessageListQuery = _query(MessageListQuery, request)
    to = query.to
    if to is not None:
        found = number_lookup(ctx, to)
        to = found.e164 or to
    page = await ctx.runtime.store.list_messages(MessageQuery(
        status=query.status, to=to, since=query.since, until=query.until,
        cursor=_cursor(query.cursor), limit=query.limit,
    ))
    return json_response({"messages": [views.message(m) for m in page.messages],
                          "next_cursor": page.next_cursor})


def _message_id(request: web.Request) -> str:
    value = request.match_info["id"]
    if not is_id(value):
        raise ProblemError("not-found", f"no message {value!r}")
    return value.upper()


@route(Scope.READ)
async def get_message(request: web.Request) -> web.Response:
    ctx = request.app[API]
    message_id = _message_id(request)
    found = await ctx.runtime.store.get_message(message_id)
    if found is None:
        raise ProblemError("not-found", f"no message {message_id!r}")
    return json_response(views.detail(found))


@route(Scope.SEND)
async def cancel_message(request: web.Request) -> web.Response:
    ctx = request.app[API]
    message_id = _message_id(request)
    try:
        message = await ctx.runtime.store.cancel(message_id)
    except NotFoundError:
        raise ProblemError("not-found", f"no message {message_id!r}") from None
    except NotCancelableError as exc:
        raise ProblemError("not-cancelable", str(exc), extra={"status": 409}) from None
    return json_response(views.message(message))


@route(Scope.READ)
async def list_inbound(request: web.Request) -> web.Response:
    ctx = request.app[API]
    query: InboundListQuery = _query(InboundListQuery, request)
    sender = query.sender
    if sender is not None:
        sender = number_lookup(ctx, sender).e164 or sender
    found = await ctx.runtime.store.list_inbound(InboundQuery(
        sender=sender, modem_id=query.modem, since=query.since, cursor=_cursor(query.cursor),
        limit=query.limit + 1,
    ))
    page = found[: query.limit]
    next_cursor = page[-1].id if len(found) > query.limit else None
    return json_response({"messages": [views.inbound(m) for m in page],
                          "next_cursor": next_cursor})


@route(Scope.READ)
async def get_inbound(request: web.Request) -> web.Response:
    ctx = request.app[API]
    value = request.match_info["id"]
    found = await ctx.runtime.store.get_inbound(value.upper()) if is_id(value) else None
    if found is None:
        raise ProblemError("not-found", f"no inbound message {value!r}")
    return json_response(views.inbound(found))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(f"{PREFIX}/messages", post_message)
    r.add_post(f"{PREFIX}/messages/batch", post_batch)
    r.add_get(f"{PREFIX}/messages", list_messages, allow_head=False)
    r.add_get(f"{PREFIX}/messages/{{id:{ID}}}", get_message, allow_head=False)
    r.add_delete(f"{PREFIX}/messages/{{id:{ID}}}", cancel_message)
    r.add_get(f"{PREFIX}/inbound", list_inbound, allow_head=False)
    r.add_get(f"{PREFIX}/inbound/{{id}}", get_inbound, allow_head=False)


__all__ = ["add_routes", "check_callback", "json_response", "outgoing"]

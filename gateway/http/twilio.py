"""Twilio's Messages API, so an application written for Twilio switches by changing its base URL.

    POST /2010-04-01/Accounts/{AccountSid}/Messages.json   (form: To, From, Body,
         StatusCallback, ValidityPeriod, SendAt [+ ScheduleType=fixed])
    GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json

HTTP Basic auth: the account SID is the API key's name and the auth token is the key. Answers
and errors have Twilio's shapes and codes (21211 invalid To, 21602 missing Body, 21610
opted-out recipient, 21617 too long, 20003 authentication, 20404 not found, 20429 rate limit).
Status callbacks go to `StatusCallback` as form POSTs signed with `X-Twilio-Signature`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from gateway.keys import Scope
from gateway.store.errors import NotCancelableError, NotFoundError
from gateway.store.ids import is_id
from gateway.store.models import Message, MessageDetail, MessageStatus
from gateway.submit import OutgoingMessage
from gateway.webhooks.compat import (
    API_VERSION,
    CALLBACK_META,
    callback_meta,
    message_id_from_sid,
    sid,
    twilio_error,
    twilio_status,
)
from gateway.webhooks.events import FORMAT_TWILIO
from gateway.webhooks.targets import TargetRefusedError, check_target

from . import views
from .auth import current_key, route
from .body import read_form
from .context import API
from .idempotency import key_of, request_hash
from .problems import ProblemError
from .sending import Rejected, send, with_key

BASE = f"/{API_VERSION}/Accounts"
MAX_BODY_CHARS = 1600
MAX_FORM = 64 * 1024
MAX_VALIDITY = 36000

# problem slug -> Twilio error code
_CODES = {
    "unauthorized": 20003,
    "forbidden": 20003,
    "not-found": 20404,
    "method-not-allowed": 20004,
    "rate-limited": 20429,
    "invalid-number": 21211,
    "empty-text": 21602,
    "too-long": 21617,
    "opted-out": 21610,
    "no-consent": 21610,
    "target-refused": 21609,
    "idempotency-conflict": 20001,
    "validation-error": 20001,
    "invalid-request": 20001,
    "body-too-large": 20001,
    "unsupported-media-type": 20001,
    "internal": 20500,
    "unavailable": 20503,
}
CODE = "twilio_code"


def _error(slug: str, message: str, code: int, status: int = 400) -> ProblemError:
    return ProblemError(slug, message, status=status, extra={CODE: code})


def render_error(request: web.Request, exc: ProblemError) -> web.StreamResponse:
    code = exc.extra.get(CODE) or _CODES.get(exc.problem.slug, 20001)
    body = {
        "code": code,
        "message": exc.detail,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": exc.status,
    }
    return web.Response(body=views.dumps(body), status=exc.status, headers=exc.headers,
                        content_type="application/json")


def _date(at: datetime | None) -> str | None:
    return None if at is None else format_datetime(at.astimezone(UTC))


def resource(message: Message, account: str, date_sent: datetime | None = None
             ) -> dict[str, Any]:
    code, text = twilio_error(message.status, message.error.code if message.error else None)
    meta = callback_meta(message.metadata)
    uri = f"{BASE}/{account}/Messages/{sid(message.id)}"
    return {
        "account_sid": account,
        "api_version": API_VERSION,
        "body": message.text,
        "date_created": _date(message.created_at),
        "date_sent": _date(date_sent),
        "date_updated": _date(message.updated_at),
        "direction": "outbound-api",
        "error_code": code,
        "error_message": text,
        "from": meta.get("from") or None,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": str(message.segments),
        "price": None,
        "price_unit": None,
        "sid": sid(message.id),
        "status": twilio_status(message.status),
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": message.to,
        "uri": f"{uri}.json",
    }


def _date_sent(detail: MessageDetail) -> datetime | None:
    for change in detail.history:
        if change.to_status is MessageStatus.SENT:
            return change.at
    return None


def _account(request: web.Request) -> str:
    account = request.match_info["account"]
    if account != current_key(request).name:
        raise _error("forbidden", f"the credentials do not belong to account {account}", 20003,
                     403)
    return account


def _first(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in pairs:
        out.setdefault(name, value)
    return out


def _outgoing(form: dict[str, str], account: str, allow_private: bool) -> OutgoingMessage:
    to = form.get("To", "").strip()
    if not to:
        raise _error("validation-error", "A 'To' phone number is required.", 21604)
    if form.get("MediaUrl"):
        raise _error("validation-error", "MMS (MediaUrl) is not supported by this gateway.",
                     21620)
    body = form.get("Body", "")
    if not body:
        raise _error("empty-text", "Message body is required.", 21602)
    if len(body) > MAX_BODY_CHARS:
        raise _error("too-long",
                     "The concatenated message body exceeds the 1600 character limit.", 21617)
    callback = form.get("StatusCallback") or None
    if callback is not None:
        try:
            check_target(callback, allow_private=allow_private)
        except TargetRefusedError as exc:
            raise _error("target-refused", f"The StatusCallback URL is not valid: {exc}",
                         21609) from None
    now = datetime.now(UTC)
    send_at = None
    if form.get("SendAt"):
        if form.get("ScheduleType", "fixed") != "fixed":
            raise _error("validation-error", "ScheduleType must be 'fixed'.", 35114)
        try:
            send_at = datetime.fromisoformat(form["SendAt"].replace("Z", "+00:00"))
        except ValueError:
            send_at = None
        if send_at is None or send_at.tzinfo is None:
            raise _error("validation-error",
                         "SendAt must be an ISO-8601 date and time with a time zone.", 35111)
        send_at = send_at.astimezone(UTC)
    expires = None
    if form.get("ValidityPeriod"):
        value = form["ValidityPeriod"]
        if not value.isdigit() or not 1 <= int(value) <= MAX_VALIDITY:
            raise _error("validation-error",
                         f"ValidityPeriod must be 1 to {MAX_VALIDITY} seconds.", 21623)
        expires = max(send_at or now, now) + timedelta(seconds=int(value))
    meta: dict[str, Any] = {"format": FORMAT_TWILIO}
    if form.get("From"):
        meta["from"] = form["From"][:40]
    return OutgoingMessage(
        to=to, text=body, sender=account, api_key=account, send_at=send_at,
        expires_at=expires, status_callback=callback, metadata={CALLBACK_META: meta},
    )


@route(Scope.SEND, flavour="twilio")
async def create_message(request: web.Request) -> web.Response:
    ctx = request.app[API]
    account = _account(request)
    key = current_key(request)
    raw_form = await read_form(request, MAX_FORM)
    idem = key_of(request)
    digest = None
    if idem is not None:
        digest = request_hash("twilio", "&".join(f"{k}={v}" for k, v in raw_form).encode())
        replay = await ctx.idempotency.replay(key.name, "twilio", idem, digest)
        if replay is not None:
            return replay
    message = _outgoing(_first(raw_form), account, ctx.webhook_options.allow_private_targets)
    (outcome,) = await send(ctx, [with_key(message, idem, digest)], "twilio")
    if isinstance(outcome, Rejected):
        code = _CODES.get(outcome.slug, 21211)
        if outcome.slug == "invalid-number" and outcome.lookup is not None \
                and outcome.lookup.valid:
            code = 21614  # a real number, but not one that takes SMS
        raise _error(outcome.slug, outcome.detail, code)
    response = web.Response(body=views.dumps(resource(outcome.message, account)), status=201,
                            content_type="application/json")
    if idem is not None and digest is not None:
        await ctx.idempotency.remember(key.name, "twilio", idem, digest, response)
    return response


@route(Scope.READ, flavour="twilio")
async def fetch_message(request: web.Request) -> web.Response:
    ctx = request.app[API]
    account = _account(request)
    message_id = message_id_from_sid(request.match_info["sid"])
    detail = await ctx.runtime.store.get_message(message_id) if is_id(message_id) else None
    if detail is None or detail.message.api_key != account:
        raise _error("not-found", f"The requested resource {request.path} was not found", 20404,
                     404)
    body = resource(detail.message, account, _date_sent(detail))
    return web.Response(body=views.dumps(body), content_type="application/json")


@route(Scope.SEND, flavour="twilio")
async def cancel_message(request: web.Request) -> web.Response:
    """Twilio cancels a scheduled message with POST Status=canceled on the message."""
    ctx = request.app[API]
    account = _account(request)
    form = _first(await read_form(request, MAX_FORM))
    if form.get("Status") != "canceled":
        raise _error("validation-error", "Only Status=canceled can be set.", 20001)
    message_id = message_id_from_sid(request.match_info["sid"])
    try:
        message = await ctx.runtime.store.cancel(message_id) if is_id(message_id) else None
    except NotFoundError:
        message = None
    except NotCancelableError:
        raise _error("not-cancelable", "Message is not in a cancelable state.", 30409,
                     400) from None
    if message is None:
        raise _error("not-found", f"The requested resource {request.path} was not found", 20404,
                     404)
    return web.Response(body=views.dumps(resource(message, account)),
                        content_type="application/json")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(f"{BASE}/{{account}}/Messages.json", create_message)
    r.add_get(f"{BASE}/{{account}}/Messages/{{sid}}.json", fetch_message, allow_head=False)
    r.add_post(f"{BASE}/{{account}}/Messages/{{sid}}.json", cancel_message)


__all__ = ["add_routes", "render_error", "resource"]

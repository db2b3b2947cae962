"""Kannel's `sendsms`, for legacy applications that speak it: `GET`/`POST /cgi-bin/sendsms`.

Parameters (query string, or a form body on POST): `username`/`user`, `password`/`pass` (the
API key's name and the key), `to` (several numbers separated by spaces), `text`, `from`,
`charset` (default UTF-8, or UTF-16BE with coding 2), `coding` (0 GSM-7, 2 UCS-2; 1, 8-bit
data, is refused), `priority` (0-3, 3 highest), `validity` and `deferred` (minutes),
`dlr-mask` and `dlr-url` (placeholders %d %A %F %p %P %t %T %i %I). The gateway picks GSM-7 or
UCS-2 from the text itself, so `coding` is a hint. Answers are Kannel's plain-text lines:
`202 0: Accepted for delivery`, `202 3: Queued for later delivery`, a 4xx with the reason,
`503 Temporal failure, try again later`.
"""

from __future__ import annotations

import codecs
import re
from datetime import UTC, datetime, timedelta

from aiohttp import web

from gateway.keys import Scope
from gateway.store.models import Lane
from gateway.submit import OutgoingMessage
from gateway.webhooks.compat import CALLBACK_META
from gateway.webhooks.events import FORMAT_KANNEL
from gateway.webhooks.targets import TargetRefusedError, check_target

from .body import parse_form, read_body
from .context import API
from .problems import ProblemError
from .sending import Rejected, send

PATH = "/cgi-bin/sendsms"
MAX_BODY = 64 * 1024
MAX_RECEIVERS = 100
_CHARSET = re.compile(r"^[A-Za-z0-9._:\-]{1,40}$")
_LANES = {0: Lane.BULK, 1: Lane.NORMAL, 2: Lane.HIGH, 3: Lane.OTP}


def render_error(request: web.Request, exc: ProblemError) -> web.StreamResponse:
    slug = exc.problem.slug
    if slug in ("unauthorized", "forbidden"):
        status, text = 403, "Authorization failed for sendsms"
    elif slug in ("rate-limited", "unavailable", "internal"):
        status, text = 503, "Temporal failure, try again later"
    elif exc.status in (405, 413):
        status, text = exc.status, f"{exc.detail}, rejected"
    else:  # Kannel knows no 422: every refused request is a 400
        status, text = 400, f"{exc.detail}, rejected"
    headers = {k: v for k, v in exc.headers.items() if k.lower() == "retry-after"}
    return web.Response(text=text, status=status, headers=headers, content_type="text/plain")


def _bad(detail: str) -> ProblemError:
    return ProblemError("validation-error", detail)


def _int(params: dict[str, str], name: str, low: int, high: int) -> int | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise _bad(f"Invalid {name} value") from None
    if not low <= number <= high:
        raise _bad(f"Invalid {name} value")
    return number


async def _params(request: web.Request) -> dict[str, str]:
    """Query and form parameters; `text` decoded with the client's charset, the rest UTF-8."""
    sources = [request.rel_url.raw_query_string]
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded", "application/octet-stream"
    ):
        sources.append((await read_body(request, MAX_BODY)).decode("latin-1"))
    raw: dict[str, bytes] = {}
    for source in sources:
        # latin-1 maps each percent-decoded byte to one character: the bytes come back intact
        for name, value in parse_form(source, "latin-1"):
            raw.setdefault(name, value.encode("latin-1"))
    coding = raw.get("coding", b"0").strip() or b"0"
    charset = raw.get("charset", b"").decode("latin-1") or (
        "utf-16-be" if coding == b"2" else "utf-8")
    try:
        known = codecs.lookup(charset) if _CHARSET.match(charset) else None
    except LookupError:
        known = None
    if known is None or not getattr(known, "_is_text_encoding", True):
        raise _bad(f"Unknown charset {charset[:40]!r}")
    params: dict[str, str] = {}
    for name, data in raw.items():
        encoding = charset if name == "text" else "utf-8"
        try:
            params[name] = data.decode(encoding)
        except UnicodeError:
            raise _bad(f"Parameter {name[:20]!r} is not valid {encoding}") from None
    return params


async def sendsms(request: web.Request) -> web.Response:
    ctx = request.app[API]
    params = await _params(request)
    user = params.get("username") or params.get("user") or ""
    password = params.get("password") or params.get("pass") or ""
    record = await ctx.access.authenticator.lookup(password, user or None) if user else None
    ctx.access.check(request, record, Scope.SEND)
    assert record is not None
    receivers = params.get("to", "").split()
    if not receivers:
        raise _bad("Missing receiver number")
    if len(receivers) > MAX_RECEIVERS:
        raise _bad(f"More than {MAX_RECEIVERS} receivers")
    text = params.get("text", "")
    if not text:
        raise _bad("Empty text")
    coding = _int(params, "coding", 0, 2)
    if coding == 1:
        raise _bad("8-bit data coding is not supported")
    priority = _int(params, "priority", 0, 3)
    validity = _int(params, "validity", 1, 60 * 24 * 30)
    deferred = _int(params, "deferred", 0, 60 * 24 * 365)
    mask = _int(params, "dlr-mask", 0, 31) or 0
    dlr_url = params.get("dlr-url") or None
    if dlr_url is not None:
        try:
            check_target(dlr_url.replace("%", "0"), allow_private=ctx.webhook_options
                         .allow_private_targets)
        except TargetRefusedError as exc:
            raise _bad(f"Invalid dlr-url: {exc}") from None
    now = datetime.now(UTC)
    send_at = now + timedelta(minutes=deferred) if deferred else None
    expires = (send_at or now) + timedelta(minutes=validity) if validity else None
    meta = {CALLBACK_META: {"format": FORMAT_KANNEL, "mask": mask,
                            "from": params.get("from", "")[:40]}}
    messages = [
        OutgoingMessage(
            to=to, text=text, lane=_LANES[priority if priority is not None else 1],
            sender=record.name, api_key=record.name, send_at=send_at, expires_at=expires,
            status_callback=dlr_url if mask else None, metadata=meta,
        )
        for to in receivers
    ]
    outcomes = await send(ctx, messages, "kannel")
    refused = [(to, o) for to, o in zip(receivers, outcomes, strict=True)
               if isinstance(o, Rejected)]
    if len(refused) == len(receivers):
        raise _bad(refused[0][1].detail)
    line = "3: Queued for later delivery" if deferred else "0: Accepted for delivery"
    if refused:
        failed = " ".join(to for to, _o in refused)
        line += f"; refused for {len(refused)} of {len(receivers)} receivers: {failed}"
    return web.Response(text=line, status=202, content_type="text/plain")


def add_routes(app: web.Application) -> None:
    from .auth import route

    handler = route(Scope.SEND, flavour="kannel", auth="self")(sendsms)
    app.router.add_get(PATH, handler, allow_head=False)
    app.router.add_post(PATH, handler)


__all__ = ["add_routes", "render_error"]

"""RFC 9457 problem details: every refusal as `application/problem+json` with a stable `type`.

The problem types are data (`PROBLEMS`): the docs page lists them, clients switch on `type`
(`urn:smsgw:problem:<slug>`), people read `detail`, and `field` names the failing input
(`errors` lists every failing field when there are several). Handlers raise `ProblemError`;
the middleware renders it in the shape the route speaks (JSON problem, Twilio error, Kannel
text). Anything else that escapes a handler is a bug: it is logged with its traceback and
answered with a 500 problem that gives nothing away.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import ValidationError

_LOG = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:smsgw:problem:"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return TYPE_PREFIX + self.slug


PROBLEMS: dict[str, ProblemType] = {
    p.slug: p
    for p in (
        ProblemType("invalid-json", 400, "Malformed JSON",
                    "The body is not valid JSON (or not UTF-8)."),
        ProblemType("invalid-request", 400, "Invalid request",
                    "A header, form or query parameter is malformed."),
        ProblemType("invalid-idempotency-key", 400, "Invalid Idempotency-Key",
                    "Idempotency-Key must be 1-255 printable ASCII characters."),
        ProblemType("unauthorized", 401, "Unauthorized",
                    "No API key, or an unknown or revoked one. Send Authorization: Bearer KEY."),
        ProblemType("forbidden", 403, "Forbidden",
                    "The API key lacks the scope this operation needs (send, read or admin)."),
        ProblemType("not-found", 404, "Not found",
                    "No such route, or no message/modem/webhook with this id."),
        ProblemType("method-not-allowed", 405, "Method not allowed",
                    "The route exists but not with this HTTP method."),
        ProblemType("not-cancelable", 409, "Not cancelable",
                    "Only queued or scheduled messages can be canceled."),
        ProblemType("body-too-large", 413, "Body too large",
                    "The request body exceeds the size limit of this route."),
        ProblemType("unsupported-media-type", 415, "Unsupported media type",
                    "Send Content-Type: application/json."),
        ProblemType("validation-error", 422, "Invalid field",
                    "A field is missing, has the wrong type or value, or is not known."),
        ProblemType("invalid-number", 422, "Number cannot receive SMS",
                    "The recipient is not a valid number, or not one that can receive SMS."),
        ProblemType("empty-text", 422, "Empty text", "The message text is empty."),
        ProblemType("too-long", 422, "Text too long",
                    "The text needs more segments than the configured limit."),
        ProblemType("opted-out", 422, "Recipient opted out",
                    "The recipient has opted out (STOP) of messages from this gateway."),
        ProblemType("no-consent", 422, "No consent",
                    "Marketing messages need the recipient's recorded consent."),
        ProblemType("frequency-capped", 422, "Frequency cap reached",
                    "The recipient has had the most messages of this category allowed in the "
                    "configured window."),
        ProblemType("template-error", 422, "Template error",
                    "The template cannot be parsed or a field it needs is missing."),
        ProblemType("conflict", 409, "Conflict",
                    "The resource is not in a state that allows this action."),
        ProblemType("idempotency-conflict", 422, "Idempotency-Key reused",
                    "The Idempotency-Key was used before with a different request body."),
        ProblemType("target-refused", 422, "Webhook target refused",
                    "The URL is not http(s), or points at a link-local or metadata address."),
        ProblemType("rate-limited", 429, "Too many requests",
                    "The API key's request rate limit is exceeded; see Retry-After."),
        ProblemType("internal", 500, "Internal error",
                    "A bug in the gateway: the request may be retried; please report it."),
        ProblemType("not-implemented", 501, "Not implemented",
                    "This gateway build cannot perform this action."),
        ProblemType("unavailable", 503, "Unavailable",
                    "The gateway is starting or stopping, or cannot take messages now."),
    )
}

HTTP_SLUGS = {400: "invalid-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
              405: "method-not-allowed", 413: "body-too-large", 415: "unsupported-media-type"}


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    detail: str


class ProblemError(Exception):
    """Raise from a handler to answer with a problem."""

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        field: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.problem = PROBLEMS[slug]
        self.detail = detail
        self.field = field if field is not None else (errors[0].field if errors else None)
        self.errors = tuple(errors)
        self.headers = dict(headers or {})
        self.status = status or self.problem.status
        self.extra = dict(extra or {})

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.problem.uri,
            "title": self.problem.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.field is not None:
            out["field"] = self.field
        if self.errors:
            out["errors"] = [{"field": e.field, "detail": e.detail} for e in self.errors]
        if instance is not None:
            out["instance"] = instance
        out.update(self.extra)
        return out


def problem_response(exc: ProblemError, instance: str | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(exc.body(instance), ensure_ascii=False).encode("utf-8"),
        status=exc.status,
        content_type=CONTENT_TYPE,
        headers=exc.headers,
    )


def field_path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(body)"


_MESSAGES = {
    "extra_forbidden": "unknown field",
    "missing": "required",
}


def field_errors(exc: ValidationError, prefix: Sequence[str | int] = ()) -> list[FieldError]:
    errors = []
    for error in exc.errors(include_url=False):
        message = _MESSAGES.get(error["type"], error["msg"]).removeprefix("Value error, ")
        errors.append(FieldError(field_path((*prefix, *error["loc"])), message))
    return errors


def from_validation(exc: ValidationError, prefix: Sequence[str | int] = ()) -> ProblemError:
    """A pydantic failure as a problem: malformed JSON is a 400, anything else a 422."""
    for error in exc.errors(include_url=False):
        if error["type"] == "json_invalid":
            return ProblemError("invalid-json", f"the body is not valid JSON: {error['msg']}")
    errors = field_errors(exc, prefix)
    first = errors[0] if errors else FieldError("(body)", "invalid")
    detail = f"{first.field}: {first.detail}"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return ProblemError("validation-error", detail, errors=errors)


# --- rendering per route flavour ----------------------------------------------------------------

Renderer = Callable[[web.Request, ProblemError], web.StreamResponse]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class Renderers:
    """Flavour name -> how that flavour of route answers a problem ("api" is the default)."""

    by_flavour: dict[str, Renderer] = field(default_factory=dict)
    flavour_of: Callable[[web.Request], str] = lambda _request: "api"

    def render(self, request: web.Request, exc: ProblemError) -> web.StreamResponse:
        renderer = self.by_flavour.get(self.flavour_of(request))
        if renderer is None:
            return problem_response(exc, request.path)
        return renderer(request, exc)


def problem_middleware(renderers: Renderers) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ProblemError as exc:
            return renderers.render(request, exc)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            slug = HTTP_SLUGS.get(exc.status)
            if slug is None:
                slug = "unavailable" if exc.status >= 500 else "invalid-request"
            detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") \
                else exc.reason
            headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow",
                                                                             "retry-after")}
            return renderers.render(
                request, ProblemError(slug, detail or exc.reason, status=exc.status,
                                      headers=headers)
            )
        except ConnectionResetError:
            raise  # the client went away: nobody to answer
        except Exception:
            _LOG.exception("unhandled error in %s %s", request.method, request.path)
            return renderers.render(
                request, ProblemError("internal", "an internal error occurred; it was logged")
            )

    return middleware


__all__ = [
    "CONTENT_TYPE",
    "PROBLEMS",
    "FieldError",
    "ProblemError",
    "ProblemType",
    "Renderers",
    "field_errors",
    "field_path",
    "from_validation",
    "problem_middleware",
    "problem_response",
]

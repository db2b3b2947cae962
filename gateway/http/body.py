"""Reading request bodies within a per-route limit (a batch may be large, a single message
not), and parsing them: JSON through pydantic, forms with the charset the client declared."""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import parse_qsl

from aiohttp import web
from pydantic import BaseModel, ValidationError

from .problems import ProblemError, from_validation

M = TypeVar("M", bound=BaseModel)
FORM = "application/x-www-form-urlencoded"


async def read_body(request: web.Request, limit: int) -> bytes:
    length = request.content_length
    if length is not None and length > limit:
        raise ProblemError("body-too-large", f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise ProblemError("body-too-large", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def require_json(request: web.Request) -> None:
    if "Content-Type" not in request.headers:
        return
    kind = request.content_type
    if kind != "application/json" and not kind.endswith("+json"):
        raise ProblemError("unsupported-media-type",
                           f"send Content-Type: application/json (got {kind})")


def parse_json(model: type[M], raw: bytes) -> M:
    if not raw.strip():
        raise ProblemError("invalid-json", "the body is empty: send a JSON object")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise from_validation(exc) from None


def parse_form(raw: bytes | str, charset: str = "utf-8") -> list[tuple[str, str]]:
    """Form or query-string pairs; a value that is not valid in `charset` is a 400."""
    text = raw.decode("ascii", "strict") if isinstance(raw, bytes) else raw
    try:
        return parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict",
                         max_num_fields=1000)
    except (UnicodeDecodeError, LookupError):
        raise ProblemError("invalid-request", f"a parameter is not valid {charset}") from None
    except ValueError as exc:
        raise ProblemError("invalid-request", str(exc)) from None


async def read_form(request: web.Request, limit: int, charset: str = "utf-8"
                    ) -> list[tuple[str, str]]:
    raw = await read_body(request, limit)
    try:
        return parse_form(raw, charset)
    except UnicodeDecodeError:
        raise ProblemError("invalid-request", "a form body is ASCII (percent-encoded)") from None


__all__ = ["FORM", "parse_form", "parse_json", "read_body", "read_form", "require_json"]

"""`Idempotency-Key` on POST: the same key and body get the original answer back (24 h);
the same key with another body is a 422.

Two layers make this hold across crashes. The message row itself carries the key and a hash
of the request (the store refuses a second message with the same key atomically, in the
transaction that stores the first), and the answer is kept here so a replay returns it byte
for byte. If the gateway stopped between the two, the replay finds the message through the
store and answers from it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from aiohttp import web

from gateway.store.api_models import StoredResponse
from gateway.store.sqlite_api import ApiStore

from .problems import ProblemError

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
MAX_KEY = 255


def key_of(request: web.Request) -> str | None:
    value = request.headers.get(HEADER)
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_KEY or not all(0x20 < ord(c) < 0x7F for c in value):
        raise ProblemError("invalid-idempotency-key",
                           "Idempotency-Key must be 1-255 printable ASCII characters",
                           field=HEADER)
    return value


def request_hash(route: str, body: bytes) -> str:
    return hashlib.sha256(route.encode() + b"\0" + body).hexdigest()


class Idempotency:
    def __init__(self, api: ApiStore, ttl: timedelta = TTL) -> None:
        self._api = api
        self._ttl = ttl

    async def replay(self, api_key: str, route: str, key: str, digest: str
                     ) -> web.Response | None:
        stored = await self._api.get_response(api_key, route, key,
                                              datetime.now(UTC) - self._ttl)
        if stored is None:
            return None
        if stored.request_hash != digest:
            raise ProblemError("idempotency-conflict",
                               "this Idempotency-Key was used with a different request body",
                               field=HEADER)
        response = web.Response(body=stored.body, status=stored.status)
        response.headers["Content-Type"] = stored.content_type
        response.headers["Idempotent-Replayed"] = "true"
        return response

    async def remember(self, api_key: str, route: str, key: str, digest: str,
                       response: web.Response) -> None:
        body = response.body
        assert isinstance(body, bytes)
        await self._api.put_response(api_key, route, key, StoredResponse(
            request_hash=digest,
            status=response.status,
            content_type=response.headers.get("Content-Type", "application/json"),
            body=body,
            created_at=datetime.now(UTC),
        ))


__all__ = ["HEADER", "Idempotency", "key_of", "request_hash"]

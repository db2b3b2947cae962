"""Who is calling, may they, and how often: API keys, scopes and per-key rate limits.

Every route except `/healthz` needs a key: `Authorization: Bearer KEY`, or HTTP Basic with the
key's name as user and the key as password (Twilio's clients, and browsers on the docs page).
Kannel's clients put `username`/`password` in the query; that route authenticates itself
through `Access.check`. A key is found by its SHA-256 and confirmed with a constant-time
comparison; look-ups are cached for a couple of seconds, so a key revoked with
`smsgw keys revoke` (another process) stops working within that time.

Rate limits are token buckets per key (`rate_limit` of the key, else `[api]
rate_limit_per_second`, with one second of burst); an exceeded limit is a 429 with
`Retry-After`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.keys import Scope, allows, hash_key, looks_like_key
from gateway.store.api_models import ApiKeyRecord
from gateway.store.sqlite_api import ApiStore

from .problems import ProblemError

CACHE_TTL_S = 2.0
CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """How a route authenticates and answers: `scope` needed (None: any valid key), `flavour`
    of its answers (api, twilio, kannel), `auth` (header, or `self` when the handler checks)."""

    scope: Scope | None = None
    flavour: str = "api"
    auth: str = "header"


_ROUTES: dict[Callable[..., Any], RouteInfo] = {}
DEFAULT_ROUTE = RouteInfo()
PUBLIC_PATHS = frozenset({"/healthz"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route(scope: Scope | None = None, *, flavour: str = "api", auth: str = "header"
          ) -> Callable[[Handler], Handler]:
    """Declare what a handler needs; the middleware enforces it."""

    def mark(handler: Handler) -> Handler:
        _ROUTES[handler] = RouteInfo(scope, flavour, auth)
        return handler

    return mark


def route_info(request: web.Request) -> RouteInfo:
    try:
        handler = request.match_info.handler
    except AttributeError:  # pragma: no cover - no match info outside routing
        return DEFAULT_ROUTE
    return _ROUTES.get(handler, DEFAULT_ROUTE)


@dataclass(slots=True)
class _Cached:
    record: ApiKeyRecord | None
    until: float


class Authenticator:
    def __init__(self, api: ApiStore, *, ttl: float = CACHE_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._api = api
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, _Cached] = {}

    async def lookup(self, key: str, name: str | None = None) -> ApiKeyRecord | None:
        """The active key record for this key (and name, when one is given), else None."""
        if not looks_like_key(key):
            return None
        digest = hash_key(key)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached.until > now:
            record = cached.record
        else:
            record = await self._api.key_by_hash(digest)
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[digest] = _Cached(record, now + self._ttl)
        # `keys.matches` with the digest already made: a constant-time comparison of the
        # presented key's hash with the stored one (hashing once per request, not twice)
        if record is None or not (hmac.compare_digest(digest, record.hash) and record.active):
            return None
        if name is not None and name != record.name:
            return None
        return record

    async def from_header(self, header: str | None) -> ApiKeyRecord | None:
        if not header:
            return None
        scheme, _, value = header.strip().partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "bearer":
            return await self.lookup(value)
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return None
            name, sep, key = decoded.partition(":")
            if not sep:
                return None
            return await self.lookup(key, name or None)
        return None


class RateLimiter:
    """Token bucket per key: `rate` tokens a second, `max(rate, 1)` of burst."""

    def __init__(self, default_rate: float, *, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.default_rate = default_rate
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, last time)

    def take(self, name: str, rate: float | None = None, cost: float = 1.0) -> float:
        """0 when allowed (and charged), else the seconds until it would be."""
        rate = rate or self.default_rate
        burst = max(rate, 1.0)
        now = self._clock()
        tokens, last = self._buckets.get(name, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens >= cost:
            self._buckets[name] = (tokens - cost, now)
            return 0.0
        self._buckets[name] = (tokens, now)
        return (cost - tokens) / rate


CALLER: web.RequestKey[ApiKeyRecord] = web.RequestKey("smsgw_caller", ApiKeyRecord)


def current_key(request: web.Request) -> ApiKeyRecord:
    return request[CALLER]


class Access:
    """Authentication, scope and rate limit in one place, for the middleware and for routes
    that carry their credentials in parameters (Kannel)."""

    def __init__(self, authenticator: Authenticator, limiter: RateLimiter) -> None:
        self.authenticator = authenticator
        self.limiter = limiter

    def check(self, request: web.Request, record: ApiKeyRecord | None, scope: Scope | None,
              challenge: str = 'Bearer realm="smsgw"') -> ApiKeyRecord:
        if record is None:
            raise ProblemError("unauthorized", "a valid API key is required",
                               headers={"WWW-Authenticate": challenge})
        if scope is not None and not allows(record.scopes, scope):
            raise ProblemError("forbidden", f"this API key lacks the {scope.value!r} scope")
        wait = self.limiter.take(record.name, record.rate_limit)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise ProblemError("rate-limited", f"rate limit exceeded; retry in {retry} s",
                               headers={"Retry-After": str(retry)})
        request[CALLER] = record
        return record


def auth_middleware(access: Access) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        info = route_info(request)
        if info.auth == "self":
            return await handler(request)
        record = await access.authenticator.from_header(request.headers.get("Authorization"))
        challenge = 'Basic realm="smsgw"' if info.flavour in ("twilio", "docs") \
            else 'Bearer realm="smsgw"'
        access.check(request, record, info.scope, challenge)
        return await handler(request)

    return middleware


__all__ = [
    "CALLER",
    "Access",
    "Authenticator",
    "RateLimiter",
    "RouteInfo",
    "auth_middleware",
    "current_key",
    "route",
    "route_info",
]

"""Status-page sessions: an admin API key is exchanged once for a session cookie.

The cookie (`smsgw_session`) is `HttpOnly` (page scripts never see it), `SameSite=Strict` (no
other site's page can make the browser send it) and `Secure` when the gateway speaks TLS. Every
state-changing request must also carry the session's CSRF token in `X-CSRF-Token`, which the
page reads from `/ui/api/session`; a cross-site form cannot set that header, and a cross-origin
script cannot read the token. A request with an `Origin` header from another host is refused.

Sessions live in memory (a restart logs everyone out), end after `idle` seconds without a
request or `absolute` seconds in all, and end at once when their key is revoked: the key's
record is looked up again every few seconds. Only a hash of each session token is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from aiohttp import web

from gateway.keys import Scope, allows
from gateway.store.api_models import ApiKeyRecord

from .problems import ProblemError

COOKIE = "smsgw_session"
CSRF_HEADER = "X-CSRF-Token"
IDLE_S = 30 * 60.0
ABSOLUTE_S = 12 * 3600.0
RECHECK_S = 5.0  # how soon a revoked key ends its sessions
MAX_SESSIONS = 1000
LOGIN_FAILURES = 5  # failed logins allowed per address per window
LOGIN_WINDOW_S = 60.0


class KeyLookup(Protocol):
    async def key_by_hash(self, key_hash: str) -> ApiKeyRecord | None: ...


@dataclass(slots=True)
class Session:
    key_name: str
    key_hash: str
    csrf: str
    created: float
    seen: float
    checked: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def is_admin(record: ApiKeyRecord) -> bool:
    return record.active and allows(record.scopes, Scope.ADMIN)


class SessionStore:
    def __init__(
        self,
        keys: KeyLookup,
        *,
        idle: float = IDLE_S,
        absolute: float = ABSOLUTE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self.idle = idle
        self.absolute = absolute
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def create(self, record: ApiKeyRecord) -> tuple[str, Session]:
        """A new session for this (admin) key: the cookie value and the session."""
        now = self._clock()
        self._expire(now)
        if len(self._sessions) >= MAX_SESSIONS:  # drop the least recently used
            oldest = min(self._sessions, key=lambda k: self._sessions[k].seen)
            del self._sessions[oldest]
        token = secrets.token_urlsafe(32)
        session = Session(record.name, record.hash, secrets.token_urlsafe(24), now, now, now)
        self._sessions[_digest(token)] = session
        return token, session

    async def get(self, token: str | None) -> Session | None:
        """The live session of this cookie value, else None (expired, revoked, unknown)."""
        if not token or len(token) > 128:
            return None
        digest = _digest(token)
        session = self._sessions.get(digest)
        if session is None:
            return None
        now = self._clock()
        if now - session.seen > self.idle or now - session.created > self.absolute:
            del self._sessions[digest]
            return None
        if now - session.checked > RECHECK_S:
            record = await self._keys.key_by_hash(session.key_hash)
            if record is None or not is_admin(record):
                self._sessions.pop(digest, None)
                return None
            session.checked = now
        session.seen = now
        return session

    def drop(self, token: str | None) -> None:
        if token:
            self._sessions.pop(_digest(token), None)

    def _expire(self, now: float) -> None:
        for digest in [d for d, s in self._sessions.items()
                       if now - s.seen > self.idle or now - s.created > self.absolute]:
            del self._sessions[digest]

    def __len__(self) -> int:
        return len(self._sessions)


class LoginThrottle:
    """At most `LOGIN_FAILURES` failed logins per client address per `LOGIN_WINDOW_S`: guessing
    keys is hopeless anyway (256 bits), this keeps a script from filling the log."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, list[float]] = {}

    def wait(self, address: str) -> float:
        """Seconds until this address may try again (0: now)."""
        now = self._clock()
        recent = [t for t in self._failures.get(address, ()) if now - t < LOGIN_WINDOW_S]
        if recent:
            self._failures[address] = recent
        else:
            self._failures.pop(address, None)
        if len(recent) < LOGIN_FAILURES:
            return 0.0
        return LOGIN_WINDOW_S - (now - recent[0])

    def failed(self, address: str) -> None:
        if len(self._failures) >= MAX_SESSIONS:
            self._failures.clear()
        self._failures.setdefault(address, []).append(self._clock())


def set_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=request.secure,
                        path="/")


def clear_cookie(response: web.StreamResponse, request: web.Request) -> None:
    response.del_cookie(COOKIE, path="/", secure=request.secure, httponly=True,
                        samesite="Strict")


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser's cross-origin request (SameSite already holds the cookie)
    return urlsplit(origin).netloc == request.host


async def require_session(request: web.Request, store: SessionStore, *, write: bool = False
                          ) -> Session:
    """The caller's session, or a 401 problem; `write` also checks Origin and the CSRF token
    (a 403 problem when either is wrong)."""
    session = await store.get(request.cookies.get(COOKIE))
    if session is None:
        raise ProblemError("unauthorized", "log in with an admin API key first")
    if write:
        sent = request.headers.get(CSRF_HEADER, "")
        if not _same_origin(request):
            raise ProblemError("forbidden", "cross-origin request refused")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise ProblemError("forbidden", f"missing or wrong {CSRF_HEADER} header")
    return session


__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "LoginThrottle",
    "Session",
    "SessionStore",
    "clear_cookie",
    "is_admin",
    "require_session",
    "set_cookie",
]

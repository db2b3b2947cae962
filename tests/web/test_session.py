"""Status-page sessions and login throttling, without a browser."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from gateway.http.session import LOGIN_FAILURES, LoginThrottle, SessionStore
from gateway.store.api_models import ApiKeyRecord

ADMIN = ApiKeyRecord(1, "ops", "h" * 64, "s", "smsgw_live_abc…", frozenset({"admin"}), None,
                     datetime(2025, 1, 1, tzinfo=UTC), None)


class Keys:
    def __init__(self) -> None:
        self.records = {ADMIN.hash: ADMIN}
        self.lookups = 0

    async def key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        self.lookups += 1
        return self.records.get(key_hash)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_session_lives_while_used_and_ends_when_idle_or_old() -> None:
    clock, keys = Clock(), Keys()
    store = SessionStore(keys, idle=60, absolute=300, clock=clock)
    token, session = store.create(ADMIN)
    assert len(session.csrf) >= 24 and token not in repr(store._sessions)
    assert await store.get(token) is session
    assert await store.get(token + "x") is None and await store.get(None) is None
    for _ in range(5):  # used every 50 s: idle never reached, absolute limit is
        clock.now += 50
        assert await store.get(token) is session
    clock.now += 51
    assert await store.get(token) is None
    token, _ = store.create(ADMIN)
    clock.now += 61
    assert await store.get(token) is None


async def test_a_revoked_or_demoted_key_ends_its_sessions_within_seconds() -> None:
    clock, keys = Clock(), Keys()
    store = SessionStore(keys, clock=clock)
    token, _ = store.create(ADMIN)
    clock.now += 1
    assert await store.get(token) is not None
    assert keys.lookups == 0  # checked again only every few seconds
    keys.records[ADMIN.hash] = replace(ADMIN, scopes=frozenset({"read"}))
    clock.now += 6
    assert await store.get(token) is None
    other, _ = store.create(ADMIN)
    keys.records[ADMIN.hash] = replace(ADMIN, revoked_at=datetime(2025, 2, 1, tzinfo=UTC))
    clock.now += 6
    assert await store.get(other) is None
    assert len(store) == 0


async def test_logout_drops_the_session() -> None:
    store = SessionStore(Keys())
    token, _ = store.create(ADMIN)
    store.drop(token)
    assert await store.get(token) is None


def test_failed_logins_are_throttled_per_address() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(LOGIN_FAILURES):
        assert throttle.wait("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
    assert throttle.wait("10.0.0.1") > 0
    assert throttle.wait("10.0.0.2") == 0
    clock.now += 61
    assert throttle.wait("10.0.0.1") == 0


def test_the_cookie_is_secure_exactly_when_the_gateway_speaks_tls() -> None:
    import ssl

    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from gateway.http.session import set_cookie

    for context, secure in ((None, False), (ssl.create_default_context(), True)):
        request = make_mocked_request("POST", "/ui/login", sslcontext=context)
        response = web.Response()
        set_cookie(response, request, "token")
        morsel = response.cookies["smsgw_session"]
        assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"
        assert bool(morsel["secure"]) is secure

"""The pieces below the HTTP server: signatures against published vectors, webhook target
checks, the guarded resolver, the rate limiter, the keyring, the plain-HTTP warning."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from gateway.config import load_config
from gateway.http.app import RUNTIME
from gateway.http.auth import RateLimiter
from gateway.http.routes import _warn_plain_http
from gateway.keys import Keyring, hash_key, looks_like_key
from gateway.store.api_models import ApiKeyRecord
from gateway.webhooks.compat import expand_dlr_url, kannel_values
from gateway.webhooks.signing import (
    new_secret,
    secret_bytes,
    sign_standard,
    standard_headers,
    twilio_signature,
    verify_standard,
)
from gateway.webhooks.targets import GuardedResolver, TargetRefusedError, check_target

# The Standard Webhooks specification's published test vector.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_standard_webhooks_vector_and_verification() -> None:
    assert sign_standard(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    headers = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TS),
               "webhook-signature": f"v1,bogus {VECTOR_SIGNATURE}"}
    assert verify_standard(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TS + 10)
    assert not verify_standard(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TS + 301)
    assert not verify_standard(VECTOR_SECRET, headers, VECTOR_BODY + b" ", now=VECTOR_TS)
    assert not verify_standard(new_secret(), headers, VECTOR_BODY, now=VECTOR_TS)
    secret = new_secret()
    assert len(secret_bytes(secret)) >= 24 and secret != new_secret()
    fresh = standard_headers(secret, "evt_1", b"{}")
    assert verify_standard(secret, fresh, b"{}")


def test_twilio_signature_follows_the_documented_algorithm() -> None:
    # url + each POST parameter name and value, sorted by name, HMAC-SHA1 with the token
    url = "https://example.com/sms/status?site=1"
    params = [("To", "+4915100000001"), ("MessageStatus", "sent"), ("AccountSid", "app")]
    data = url + "AccountSidappMessageStatussentTo+4915100000001"
    want = base64.b64encode(hmac.new(b"token", data.encode(), hashlib.sha1).digest()).decode()
    assert twilio_signature("token", url, params) == want


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest", "http://[fe80::1%25eth0]/", "http://[fd00:ec2::254]/",
    "http://100.100.100.200/", "http://metadata.google.internal./", "gopher://x/",
    "http://", "http://x:0/", "http://224.0.0.1/", "http://[::ffff:169.254.1.1]/",
])
def test_refused_targets(url: str) -> None:
    with pytest.raises(TargetRefusedError):
        check_target(url)


@pytest.mark.parametrize("url", [
    "https://app.example.com/hooks/sms", "http://127.0.0.1:8000/cb", "http://192.168.1.20/x",
    "http://[::1]:9000/",
])
def test_allowed_targets(url: str) -> None:
    assert check_target(url) == url


def test_configuration_can_allow_every_target() -> None:
    assert check_target("http://169.254.169.254/", allow_private=True)
    with pytest.raises(TargetRefusedError):
        check_target("file:///etc/passwd", allow_private=True)


class _FakeDns(AbstractResolver):
    """The resolver below the guard: answers what a hostile DNS would."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
                for a in self.answers]

    async def close(self) -> None:
        pass


async def test_guarded_resolver_drops_metadata_addresses_after_dns() -> None:
    guard = GuardedResolver(_FakeDns(["169.254.169.254"]))
    with pytest.raises(OSError, match="refused"):
        await guard.resolve("rebind.example", 80)
    mixed = GuardedResolver(_FakeDns(["169.254.169.254", "203.0.113.7"]))
    assert [r["host"] for r in await mixed.resolve("mixed.example", 80)] == ["203.0.113.7"]


def test_rate_limiter_token_bucket() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]
    assert limiter.take("b") == 0.0  # per key
    now[0] = 0.5
    assert limiter.take("a") == 0.0
    assert limiter.take("c", rate=10.0) == 0.0


def test_keyring_derives_the_key_and_detects_a_replaced_keyring(tmp_path: Path) -> None:
    ring = Keyring.load_or_create(tmp_path / "db.keyring")
    assert (tmp_path / "db.keyring").stat().st_mode & 0o777 == 0o600
    again = Keyring.load_or_create(tmp_path / "db.keyring")
    salt = "ab" * 32
    key = ring.derive(salt)
    assert looks_like_key(key) and again.derive(salt) == key
    record = ApiKeyRecord(1, "app", hash_key(key), salt, "", frozenset({"send"}), None,
                          datetime.now(UTC), None)
    assert ring.key_for(record) == key
    other = Keyring.load_or_create(tmp_path / "other.keyring")
    assert other.key_for(record) is None


def test_kannel_placeholders_are_url_encoded() -> None:
    values = kannel_values(dlr_type=1, reply="DELIVRD", message_id="01ABC", to="+4915100000001",
                           sender="Shop & Co", at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
                           modem_id="modem0")
    url = expand_dlr_url("http://h/dlr?t=%d&to=%p&from=%P&at=%t&x=%Z&pct=%%&id=%F", values)
    assert url == ("http://h/dlr?t=1&to=%2B4915100000001&from=Shop%20%26%20Co"
                   "&at=2024-05-01%2012%3A00%3A00&x=%Z&pct=%&id=01ABC")


async def test_warning_when_listening_beyond_loopback_without_tls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def warned(listen: str) -> bool:
        settings = load_config(overrides={"server": {"listen": listen},
                                          "store": {"path": str(tmp_path / "x.db")}},
                               environ={}, use_default_file=False)
        app = web.Application()
        runtime: Any = SimpleNamespace(settings=settings)
        app[RUNTIME] = runtime
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="gateway.http.routes"):
            await _warn_plain_http(app)
        return any("without TLS" in r.getMessage() for r in caplog.records)

    assert await warned("0.0.0.0:8080")
    assert await warned("192.168.1.5:8080")
    assert not await warned("127.0.0.1:8080")
    assert not await warned("[::1]:8080")

"""Signatures on what the gateway sends out, and the checks a receiver makes.

Standard Webhooks (standardwebhooks.com): `webhook-signature: v1,<base64 HMAC-SHA256>` over
`<webhook-id>.<webhook-timestamp>.<body>`, keyed by the secret `whsec_<base64 bytes>`; a
receiver rejects timestamps more than five minutes away. Twilio: `X-Twilio-Signature` is the
base64 HMAC-SHA1, keyed by the auth token, of the full URL followed by every POST parameter
name and value, sorted by name. The verifiers are used by the tests and by anyone embedding a
receiver; the gateway itself only signs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
TOLERANCE_S = 300


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_bytes(secret: str) -> bytes:
    """The key bytes of a `whsec_...` secret."""
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a whsec_ secret") from None


def secret_for_key(api_key: str) -> str:
    """The Standard Webhooks secret that signs `status_callback` deliveries of messages sent
    with this API key: the key's own bytes, so the application needs nothing new to verify."""
    return SECRET_PREFIX + base64.b64encode(api_key.encode("utf-8")).decode("ascii")


def sign_standard(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def standard_headers(secret: str, message_id: str, body: bytes, *, timestamp: int | None = None
                     ) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign_standard(secret, message_id, ts, body),
    }


def verify_standard(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None,
    tolerance: int = TOLERANCE_S,
) -> bool:
    """A receiver's check: signature (any of the space-separated `v1,` entries) and age."""
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not message_id or not stamp.isdigit() or not signatures:
        return False
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > tolerance:
        return False
    expected = sign_standard(secret, message_id, int(stamp), body).split(",", 1)[1]
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_twilio(auth_token: str, url: str, params: Iterable[tuple[str, str]],
                  signature: str) -> bool:
    return hmac.compare_digest(twilio_signature(auth_token, url, params), signature)


__all__ = [
    "SECRET_PREFIX",
    "new_secret",
    "secret_bytes",
    "secret_for_key",
    "sign_standard",
    "standard_headers",
    "twilio_signature",
    "verify_standard",
    "verify_twilio",
]

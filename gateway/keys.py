"""API keys: `smsgw_live_` + 256 bits, shown once, stored only as a SHA-256, scoped.

A key is the HMAC-SHA256 of a fresh 256-bit random salt under the gateway's keyring secret (a
file of 32 random bytes beside the database, mode 0600). The database keeps the salt and the
key's hash, never the key: someone holding a copy of the database cannot call the API, and
cannot forge callbacks. The gateway itself can re-derive a key from keyring + salt, which is
what Twilio compatibility needs: Twilio signs callbacks (`X-Twilio-Signature`) with the auth
token, and here the auth token is the key. Lose the keyring file and keys still authenticate
(by hash), only the callbacks they asked for go out unsigned-able and are held back.

Keys are looked up by hash and then compared with `hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from gateway.store.api_models import ApiKeyRecord
from gateway.store.rows import to_ms
from gateway.store.sqlite_api import insert_key

KEY_PREFIX = "smsgw_live_"
KEYRING_SUFFIX = ".keyring"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_KEY_SHAPE = re.compile(r"^smsgw_live_[A-Za-z0-9_\-]{43}$")


class Scope(StrEnum):
    SEND = "send"  # submit and cancel messages
    READ = "read"  # read messages, inbound, modems, numbers, metrics
    ADMIN = "admin"  # everything, plus webhooks and modem actions


DEFAULT_SCOPES: frozenset[Scope] = frozenset({Scope.SEND, Scope.READ})


class KeyInputError(ValueError):
    """A bad key name or scope list (the CLI prints it)."""


def parse_scopes(text: str) -> frozenset[Scope]:
    scopes: set[Scope] = set()
    for part in text.split(","):
        word = part.strip().lower()
        if not word:
            continue
        try:
            scopes.add(Scope(word))
        except ValueError:
            raise KeyInputError(f"unknown scope {word!r}: use send, read, admin") from None
    if not scopes:
        raise KeyInputError("give at least one scope: send, read, admin")
    return frozenset(scopes)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise KeyInputError(
            "a key name is 1-64 letters, digits, '_', '.', '-' and starts with a letter or digit"
        )
    return name


def allows(granted: frozenset[str], needed: Scope) -> bool:
    return needed.value in granted or Scope.ADMIN.value in granted


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_key(text: str) -> bool:
    return bool(_KEY_SHAPE.match(text))


def matches(key: str, record: ApiKeyRecord) -> bool:
    """Constant-time check of a presented key against a stored record."""
    return hmac.compare_digest(hash_key(key), record.hash) and record.active


def hint(key: str) -> str:
    return f"{key[: len(KEY_PREFIX) + 4]}...{key[-4:]}"


class Keyring:
    """The gateway's secret for deriving keys. One per database: `<db>.keyring`."""

    __slots__ = ("_secret", "path")

    def __init__(self, secret: bytes, path: Path | None = None) -> None:
        if len(secret) < 32:
            raise ValueError("a keyring secret has at least 32 bytes")
        self._secret = secret
        self.path = path

    @classmethod
    def for_database(cls, db_path: Path) -> Keyring:
        return cls.load_or_create(db_path.with_name(db_path.name + KEYRING_SUFFIX))

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        """Read the keyring, creating it (0600, exclusively: two processes agree) if absent."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        text = path.read_text(encoding="ascii").strip()
        try:
            secret = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{path} is not a keyring (expected 64 hex digits)") from None
        return cls(secret, path)

    def derive(self, salt_hex: str) -> str:
        digest = hmac.new(self._secret, bytes.fromhex(salt_hex), hashlib.sha256).digest()
        return KEY_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def key_for(self, record: ApiKeyRecord) -> str | None:
        """The key itself, when this keyring made it (None after a keyring was replaced)."""
        key = self.derive(record.salt)
        return key if hmac.compare_digest(hash_key(key), record.hash) else None


@dataclass(frozen=True, slots=True)
class NewKey:
    record: ApiKeyRecord
    key: str  # shown once


def create_key(
    conn: sqlite3.Connection,
    keyring: Keyring,
    name: str,
    scopes: frozenset[Scope] = DEFAULT_SCOPES,
    *,
    rate_limit: float | None = None,
    now: datetime | None = None,
) -> NewKey:
    """Make and record a key (inside the caller's transaction, if it has one)."""
    check_name(name)
    if rate_limit is not None and rate_limit <= 0:
        raise KeyInputError("a rate limit is a positive number of requests per second")
    salt = secrets.token_hex(32)
    key = keyring.derive(salt)
    record = insert_key(
        conn,
        name=name,
        hash=hash_key(key),
        salt=salt,
        hint=hint(key),
        scopes=sorted(s.value for s in scopes),
        rate_limit=rate_limit,
        now_ms=to_ms(now or datetime.now(UTC)),
    )
    return NewKey(record, key)


__all__ = [
    "DEFAULT_SCOPES",
    "KEY_PREFIX",
    "KeyInputError",
    "Keyring",
    "NewKey",
    "Scope",
    "allows",
    "check_name",
    "create_key",
    "hash_key",
    "hint",
    "looks_like_key",
    "matches",
    "parse_scopes",
]

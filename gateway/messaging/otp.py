"""One-time codes: `POST /api/v1/otp` sends one, `POST /api/v1/otp/verify` checks it.

Only an HMAC-SHA256 of the code (keyed by a secret derived from the gateway's keyring, over the
code's id and the code) is stored; comparison is constant time (`hmac.compare_digest`); each
wrong guess uses an attempt, the last one locks the code; a verified code is spent; an expired
one never verifies. The code is generated with `secrets`, appears in no log line, and once its
message has left the modem the digits are blanked in the stored message text too.
Codes per number are limited (`[messaging.otp] max_per_hour`), so the endpoint cannot be used
to flood a phone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .config import OtpConfig
from .db import Runner, new_id, to_ms

OTP_SALT = b"smsgw-otp-v1".hex()  # keyring derivation input: a secret of its own for OTP


class OtpError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code  # not_found | rate_limited
        self.detail = detail


@dataclass(frozen=True, slots=True)
class IssuedCode:
    id: str
    code: str  # only ever put into the text message
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Verification:
    valid: bool
    attempts_left: int
    state: str  # verified | pending | locked | expired | spent


class Otp:
    def __init__(self, runner: Runner, config: OtpConfig, secret: bytes,
                 clock: Callable[[], datetime]) -> None:
        if len(secret) < 16:
            raise ValueError("an OTP secret has at least 16 bytes")
        self._runner = runner
        self.config = config
        self._secret = secret
        self._clock = clock

    def _digest(self, code_id: str, code: str) -> str:
        return hmac.new(self._secret, f"{code_id}:{code}".encode(), hashlib.sha256).hexdigest()

    async def issue(self, number: str, *, length: int | None = None, ttl_s: int | None = None
                    ) -> IssuedCode:
        length = length or self.config.length
        ttl = ttl_s or self.config.ttl_s
        code = f"{secrets.randbelow(10 ** length):0{length}d}"
        code_id = new_id("otp_")
        now = self._clock()
        expires = now + timedelta(seconds=ttl)
        digest = self._digest(code_id, code)
        hour_ago = to_ms(now - timedelta(hours=1))
        limit = self.config.max_per_hour

        def unit(conn: sqlite3.Connection) -> None:
            recent = conn.execute("SELECT count(*) FROM msg_otp WHERE number = ? AND"
                                  " created_at >= ?", (number, hour_ago)).fetchone()[0]
            if recent >= limit:
                raise OtpError("rate_limited", f"at most {limit} codes per hour to one number")
            conn.execute(
                "INSERT INTO msg_otp (id, number, code_hash, state, max_attempts, created_at,"
                " expires_at) VALUES (?, ?, ?, 'pending', ?, ?, ?)",
                (code_id, number, digest, self.config.max_attempts, to_ms(now), to_ms(expires)))

        await self._runner.run_in_writer(unit)
        return IssuedCode(code_id, code, expires)

    async def attach(self, code_id: str, message_id: str | None) -> None:
        """Record the message that carries the code (None: it was refused: the code is void)."""
        if message_id is None:
            await self._runner.run_in_writer(lambda c: c.execute(
                "UPDATE msg_otp SET state = 'void', redacted = 1 WHERE id = ?", (code_id,)))
        else:
            await self._runner.run_in_writer(lambda c: c.execute(
                "UPDATE msg_otp SET message_id = ? WHERE id = ?", (message_id, code_id)))

    async def verify(self, code_id: str, code: str) -> Verification:
        now_ms = to_ms(self._clock())
        candidate = self._digest(code_id, code.strip())

        def unit(conn: sqlite3.Connection) -> Verification:
            row = conn.execute("SELECT code_hash, state, attempts, max_attempts, expires_at"
                               " FROM msg_otp WHERE id = ?", (code_id,)).fetchone()
            if row is None:
                raise OtpError("not_found", f"no one-time code {code_id!r}")
            stored, state, attempts, most, expires = row
            if state == "verified":
                return Verification(False, 0, "spent")
            if state != "pending":
                return Verification(False, 0, state)
            if now_ms >= expires:
                conn.execute("UPDATE msg_otp SET state = 'expired' WHERE id = ?", (code_id,))
                return Verification(False, 0, "expired")
            attempts += 1
            if hmac.compare_digest(stored, candidate):
                conn.execute("UPDATE msg_otp SET state = 'verified', attempts = ?,"
                             " verified_at = ? WHERE id = ?", (attempts, now_ms, code_id))
                return Verification(True, most - attempts, "verified")
            state = "locked" if attempts >= most else "pending"
            conn.execute("UPDATE msg_otp SET state = ?, attempts = ? WHERE id = ?",
                         (state, attempts, code_id))
            return Verification(False, max(most - attempts, 0), state)

        return await self._runner.run_in_writer(unit)

    async def redact_sent(self) -> int:
        """Blank the code's digits in the stored text of messages that have left the modem
        (or whose code is over). The store keeps no way back to a code."""
        now_ms = to_ms(self._clock())
        length_pattern = re.compile(r"\d{4,10}")

        def unit(conn: sqlite3.Connection) -> int:
            rows = conn.execute(
                "SELECT o.id, m.seq, m.text FROM msg_otp o JOIN messages m ON m.id = o.message_id"
                " WHERE o.redacted = 0 AND (m.status NOT IN ('queued', 'scheduled', 'sending')"
                " OR o.expires_at < ?) AND m.status != 'sending' LIMIT 500", (now_ms,)).fetchall()
            for code_id, seq, text in rows:
                blanked = length_pattern.sub(lambda m: "*" * len(m.group(0)), text)
                conn.execute("UPDATE messages SET text = ? WHERE seq = ?", (blanked, seq))
                conn.execute("UPDATE msg_otp SET redacted = 1 WHERE id = ?", (code_id,))
            return len(rows)

        redacted: int = await self._runner.run_in_writer(unit)
        return redacted


__all__ = ["OTP_SALT", "IssuedCode", "Otp", "OtpError", "Verification"]

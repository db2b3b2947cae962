"""Sortable unique ids (ULID layout: 48-bit millisecond time + 80 random bits, Crockford base32).

Ids sort by creation time, so cursor pagination and `since`/`until` filters need no extra index,
and ids made in the same millisecond by one process still sort in creation order (the random
part is incremented, as the ULID spec's monotonic mode does).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Final

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH: Final = 26
_RANDOM_BITS: Final = 80
_RANDOM_MAX: Final = (1 << _RANDOM_BITS) - 1
_DECODE: Final = {c: i for i, c in enumerate(ALPHABET)}


_PAIRS: Final = tuple(a + b for a in ALPHABET for b in ALPHABET)  # 10 bits -> 2 characters
_TIME_CHARS: Final = ID_LENGTH - _RANDOM_BITS // 5


def _encode(value: int) -> str:
    return "".join(_PAIRS[(value >> shift) & 0x3FF] for shift in range(120, -1, -10))


def _encode_random(value: int) -> str:
    """The last 16 characters of an id: its 80 random bits. Unrolled, as the store's writer
    makes one id per message under the GIL (a third of `_encode`'s time)."""
    p = _PAIRS
    return (p[value >> 70] + p[(value >> 60) & 0x3FF] + p[(value >> 50) & 0x3FF]
            + p[(value >> 40) & 0x3FF] + p[(value >> 30) & 0x3FF] + p[(value >> 20) & 0x3FF]
            + p[(value >> 10) & 0x3FF] + p[value & 0x3FF])


class IdGenerator:
    """Monotonic within one generator; one per store writer is enough. The first 10
    characters are the millisecond alone (50 bits: the top 2 always zero), so they are encoded
    once per millisecond."""

    __slots__ = ("_last_ms", "_last_random", "_prefix", "_prefix_ms")

    def __init__(self) -> None:
        self._last_ms = -1
        self._last_random = 0
        self._prefix = ""
        self._prefix_ms = -1

    def new(self, now_ms: int | None = None) -> str:
        ms = int(time.time() * 1000) if now_ms is None else now_ms
        if ms <= self._last_ms:
            ms = self._last_ms
            self._last_random = (self._last_random + 1) & _RANDOM_MAX
            if self._last_random == 0:  # 2^80 ids in one millisecond: borrow the next one
                ms += 1
        else:
            self._last_random = int.from_bytes(os.urandom(10), "big") >> 1  # room to increment
        self._last_ms = ms
        if ms != self._prefix_ms:
            self._prefix = _encode(ms << _RANDOM_BITS)[:_TIME_CHARS]
            self._prefix_ms = ms
        return self._prefix + _encode_random(self._last_random)


def id_floor(at: datetime) -> str:
    """The smallest id that can be created at `at`: for `since`/`until` range filters."""
    ms = int(at.timestamp() * 1000)
    return _encode(ms << _RANDOM_BITS)


def id_time(value: str) -> datetime:
    """The creation time encoded in an id; raises ValueError for something that is not one."""
    if len(value) != ID_LENGTH:
        raise ValueError(f"not an id: {value!r}")
    number = 0
    for char in value.upper():
        digit = _DECODE.get(char)
        if digit is None:
            raise ValueError(f"not an id: {value!r}")
        number = (number << 5) | digit
    return datetime.fromtimestamp((number >> _RANDOM_BITS) / 1000, UTC)


def is_id(value: str) -> bool:
    try:
        id_time(value)
    except ValueError:
        return False
    return True

"""Bytes from the serial port -> text lines, plus the `> ` prompt that never gets a line end.

The framer is the only place that sees raw bytes. It must never grow without bound and never
hand the layers above a half-line, whatever the port sends: line noise, a DIAG port's binary
stream, a line that never ends. Anything it cannot make sense of is dropped up to the next
line end (resynchronisation) and counted, so the channel above only ever sees clean lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final


class Prompt:
    """The `> ` that `AT+CMGS` shows before it reads the PDU (some firmwares send `>` alone)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PROMPT"


PROMPT: Final = Prompt()
Frame = str | Prompt

_TERMINATORS = re.compile(rb"[\r\n]+")
# Control bytes, DEL and non-ASCII bytes are never part of a line: modems are set to the IRA
# character set, so anything else is line noise or a binary (DIAG/NMEA) stream. TAB is kept.
_DROP: Final = bytes(b for b in range(32) if b != 9) + bytes(range(0x7F, 0x100))
_PROMPTS: Final = frozenset({b">", b"> "})
DEFAULT_MAX_LINE: Final = 4096  # > twice the longest PDU or UCS-2 USSD line a modem sends


@dataclass(slots=True)
class FramerStats:
    lines: int = 0
    prompts: int = 0
    dropped_bytes: int = 0  # control/binary bytes removed from lines
    overflows: int = 0  # over-long lines discarded up to their line end


@dataclass(slots=True)
class LineFramer:
    """Feed it whatever `data_received` got; it returns the complete frames found so far."""

    max_line: int = DEFAULT_MAX_LINE
    stats: FramerStats = field(default_factory=FramerStats)
    _tail: bytes = b""
    _discarding: bool = False

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._tail + data if self._tail else data
        parts = _TERMINATORS.split(buf)
        tail = parts.pop()
        frames: list[Frame] = []
        if parts and self._discarding:
            # the rest of an over-long line: its end has arrived, drop it and resync here
            self.stats.dropped_bytes += len(parts[0])
            parts[0] = b""
            self._discarding = False
        for raw in parts:
            if raw:
                line = self._clean(raw)
                if line:
                    frames.append(line)
        self.stats.lines += len(frames)
        if len(tail) > self.max_line:
            self.stats.overflows += 1
            self.stats.dropped_bytes += len(tail)
            self._discarding = True
            tail = b""
        elif self._discarding:
            self.stats.dropped_bytes += len(tail)
            tail = b""
        elif b">" in tail and len(tail) < 16 and tail.translate(None, _DROP).strip(b" ") == b">":
            frames.append(PROMPT)
            self.stats.prompts += 1
            tail = b""
        self._tail = tail
        return frames

    def reset(self) -> None:
        """Forget any partial line (after ESC, or when the port is reopened)."""
        self._tail = b""
        self._discarding = False

    @property
    def pending_bytes(self) -> int:
        return len(self._tail)

    def _clean(self, raw: bytes) -> str:
        cleaned = raw.translate(None, _DROP)
        if len(cleaned) != len(raw):
            self.stats.dropped_bytes += len(raw) - len(cleaned)
        text = cleaned.decode("ascii")
        return (text.replace("\t", " ") if "\t" in text else text).strip()


__all__ = ["DEFAULT_MAX_LINE", "PROMPT", "Frame", "FramerStats", "LineFramer", "Prompt"]

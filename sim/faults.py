"""Fault kinds and their parameters: what can go wrong with a modem, as data.

Each kind maps to one behaviour of `modem-behaviour.md`; the modem consults `ActiveFaults` at the
few points where a fault shows on the wire (input, output, submit, storage, registration).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final


class FaultKind(StrEnum):
    HANG = "hang"  # no bytes at all (or RDY loops); input is lost
    UNPLUG = "unplug"  # the device path vanishes and returns under the same name
    REBOOT = "reboot"  # banners, echo back on, settings lost
    GARBAGE = "garbage"  # line noise in the output
    SPLIT = "split"  # responses arrive in random chunks
    URC_IN_RESPONSE = "urc_in_response"  # URCs inside responses and echoes
    URC_STORM = "urc_storm"  # a flood of vendor URCs
    SLOW_SUBMIT = "slow_submit"  # +CMGS takes its time
    CMS_ERROR = "cms_error"  # +CMS ERROR: code on the next N SMS commands
    CME_ERROR = "cme_error"  # +CME ERROR: code on the next N commands
    SIM_REMOVED = "sim_removed"
    PIN_REQUIRED = "pin_required"
    NETWORK_LOST = "network_lost"  # deregistered, then registered again
    STORAGE_FULL = "storage_full"  # SIM storage filled up; new MT waits in the network
    LOST_SUBMIT_ANSWER = "lost_submit_answer"  # the message goes out, no answer after Ctrl-Z
    INCOMING_CALL = "incoming_call"  # RING / +CLIP while the modem works


# Kinds that act once (at injection) rather than for a while.
ONE_SHOT: Final = frozenset({FaultKind.REBOOT, FaultKind.INCOMING_CALL})
# Kinds counted per affected command/submit (`count`) rather than by time only.
COUNTED: Final = frozenset(
    {FaultKind.CMS_ERROR, FaultKind.CME_ERROR, FaultKind.SLOW_SUBMIT, FaultKind.LOST_SUBMIT_ANSWER}
)
# Default duration (seconds) for kinds that would otherwise never end when injected at random.
RANDOM_DURATIONS: Final[dict[FaultKind, float]] = {
    FaultKind.HANG: 20.0,
    FaultKind.UNPLUG: 3.0,
    FaultKind.GARBAGE: 5.0,
    FaultKind.SPLIT: 30.0,
    FaultKind.URC_IN_RESPONSE: 30.0,
    FaultKind.URC_STORM: 5.0,
    FaultKind.SIM_REMOVED: 10.0,
    FaultKind.PIN_REQUIRED: 0.0,
    FaultKind.NETWORK_LOST: 10.0,
    FaultKind.STORAGE_FULL: 30.0,
}


class FaultSpecError(ValueError):
    """A fault request that cannot be applied; the text says which field is wrong."""


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One requested fault. `duration` None means until cleared (or, for counted kinds, N uses)."""

    kind: FaultKind
    duration: float | None = None
    count: int | None = None
    code: int | None = None
    seconds: float | None = None  # slow_submit: latency per submit; unplug: time away
    rate: float | None = None  # urc_storm: URCs per second
    size: int | None = None  # garbage: bytes per burst
    mode: str | None = None  # hang: "silent" | "rdy_loop"
    number: str | None = None  # incoming_call: caller

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultSpec:
        if not isinstance(data, dict):
            raise FaultSpecError("a fault is a JSON object with a 'kind'")
        try:
            kind = FaultKind(str(data.get("kind")))
        except ValueError:
            kinds = ", ".join(k.value for k in FaultKind)
            raise FaultSpecError(
                f"unknown fault kind {data.get('kind')!r}; one of {kinds}"
            ) from None
        known = {"kind", "duration", "count", "code", "seconds", "rate", "size", "mode", "number"}
        extra = set(data) - known
        if extra:
            raise FaultSpecError(f"unknown fault fields: {', '.join(sorted(extra))}")

        def num(name: str, *, integer: bool = False, minimum: float = 0.0) -> Any:
            value = data.get(name)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FaultSpecError(f"{name} must be a number")
            if integer and not float(value).is_integer():
                raise FaultSpecError(f"{name} must be an integer")
            if value < minimum:
                raise FaultSpecError(f"{name} must be >= {minimum:g}")
            return int(value) if integer else float(value)

        mode = data.get("mode")
        if mode is not None and mode not in ("silent", "rdy_loop"):
            raise FaultSpecError("mode must be 'silent' or 'rdy_loop'")
        number = data.get("number")
        if number is not None and not isinstance(number, str):
            raise FaultSpecError("number must be a string")
        spec = cls(
            kind=kind,
            duration=num("duration"),
            count=num("count", integer=True, minimum=1),
            code=num("code", integer=True),
            seconds=num("seconds"),
            rate=num("rate", minimum=0.1),
            size=num("size", integer=True, minimum=1),
            mode=mode,
            number=number,
        )
        if kind in (FaultKind.CMS_ERROR, FaultKind.CME_ERROR) and spec.code is None:
            raise FaultSpecError(f"{kind.value} needs a 'code'")
        return spec

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value}
        for name in ("duration", "count", "code", "seconds", "rate", "size", "mode", "number"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass(slots=True)
class ActiveFault:
    spec: FaultSpec
    remaining: int | None  # uses left for counted kinds
    started: float
    ends: float | None


@dataclass(slots=True)
class ActiveFaults:
    """The faults in force on one modem, by kind (a new fault of a kind replaces the old one)."""

    by_kind: dict[FaultKind, ActiveFault] = field(default_factory=dict)

    def __contains__(self, kind: FaultKind) -> bool:
        return kind in self.by_kind

    def get(self, kind: FaultKind) -> ActiveFault | None:
        return self.by_kind.get(kind)

    def use(self, kind: FaultKind) -> ActiveFault | None:
        """Consume one use of a counted fault; the fault ends when its count runs out."""
        fault = self.by_kind.get(kind)
        if fault is None:
            return None
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self.by_kind[kind]
        return fault

    def as_json(self) -> list[dict[str, Any]]:
        out = []
        for fault in self.by_kind.values():
            item = fault.spec.as_json()
            if fault.remaining is not None:
                item["remaining"] = fault.remaining
            out.append(item)
        return out


def garbage_bytes(rng: random.Random, size: int) -> bytes:
    """Line noise: random bytes, mostly high-bit and control characters, never a clean line."""
    return bytes(rng.choice((rng.randrange(0x80, 0x100), rng.randrange(0, 0x20), 0xFF, 0x00))
                 for _ in range(size))

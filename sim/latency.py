"""How long the network takes to accept a submit: fixed, uniform, or a realistic long tail.

`realistic` follows field reports (modem-behaviour.md, "How long things take"): +CMGS usually
returns in 1-4 s, sometimes 5-10 s, and rarely (weak signal, congested cell) 20-60 s.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


class LatencySpecError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Latency:
    """A submit-latency distribution; `spec` is the CLI form (`0`, `0.5`, `1-3`, `realistic`)."""

    kind: str  # "fixed" | "uniform" | "realistic"
    low: float = 0.0
    high: float = 0.0

    @classmethod
    def parse(cls, spec: str | float | int) -> Latency:
        if isinstance(spec, int | float):
            if spec < 0:
                raise LatencySpecError("latency must be >= 0")
            return cls("fixed", float(spec), float(spec))
        text = spec.strip().lower()
        if text == "realistic":
            return cls("realistic", 0.5, 60.0)
        try:
            if "-" in text:
                lo, hi = (float(x) for x in text.split("-", 1))
                if lo < 0 or hi < lo:
                    raise LatencySpecError(f"bad latency range {spec!r}")
                return cls("uniform", lo, hi)
            value = float(text)
        except ValueError:
            raise LatencySpecError(
                f"latency {spec!r}: seconds (0, 0.5), a range (1-3) or 'realistic'"
            ) from None
        if value < 0 or math.isnan(value):
            raise LatencySpecError("latency must be >= 0")
        return cls("fixed", value, value)

    @property
    def spec(self) -> str:
        if self.kind == "realistic":
            return "realistic"
        if self.kind == "uniform":
            return f"{self.low:g}-{self.high:g}"
        return f"{self.low:g}"

    @property
    def is_zero(self) -> bool:
        return self.kind == "fixed" and self.low == 0.0

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.low
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high)
        roll = rng.random()
        if roll < 0.02:  # the long tail
            return rng.uniform(20.0, self.high)
        if roll < 0.12:
            return rng.uniform(5.0, 10.0)
        return min(self.high, max(self.low, rng.lognormvariate(math.log(2.0), 0.35)))

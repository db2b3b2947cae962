"""Routing: which SIMs should carry a message, decided once when it is accepted.

The decision is a *pool* name stored with the message, and the claim walks the queue by pool:

- `group:NAME`  a routing rule matched (destination prefix and/or carrier): SIMs of that group
  are preferred; others take over when no SIM of the group is available, or when the message has
  waited `route_fallback_after_s`.
- `only:NAME`   the same with `fallback = false`: only that group ever sends it.
- `carrier:KEY` no rule matched and `prefer_on_net` is on: a SIM on the destination's own network
  is preferred (on-net texts are cheaper and arrive faster), with the same fallbacks.
- `''`          any SIM.

Carrier names from libphonenumber ("Vodafone") and from a modem's `AT+COPS?` ("vodafone UK")
are compared by `carrier_key`: the first word, lower-cased, letters and digits only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_WORD = re.compile(r"[^a-z0-9]")

ANY_POOL = ""


@functools.lru_cache(maxsize=1024)  # a few hundred carrier names; asked for every message
def carrier_key(name: str | None) -> str | None:
    if not name:
        return None
    first = name.strip().lower().split()
    key = _WORD.sub("", first[0]) if first else ""
    return key or None


@dataclass(frozen=True, slots=True)
class Route:
    prefixes: tuple[str, ...]
    carrier: str | None  # carrier_key form
    group: str
    fallback: bool = True

    def matches(self, e164: str, carrier: str | None) -> bool:
        if self.prefixes and not any(e164.startswith(p) for p in self.prefixes):
            return False
        return self.carrier is None or self.carrier == carrier_key(carrier)

    @property
    def pool(self) -> str:
        return f"{'group' if self.fallback else 'only'}:{self.group}"


class Router:
    """First matching rule wins (rules are tried in configuration order)."""

    def __init__(self, routes: Sequence[Route] = (), *, prefer_on_net: bool = False) -> None:
        self.routes = tuple(routes)
        self.prefer_on_net = prefer_on_net

    @classmethod
    def from_config(cls, rules: Iterable[object], *, prefer_on_net: bool) -> Router:
        """From `Settings.routing` (objects with prefix, carrier, group, fallback)."""
        routes = [
            Route(
                prefixes=tuple(getattr(rule, "prefix", ())),
                carrier=carrier_key(getattr(rule, "carrier", None)),
                group=str(getattr(rule, "group")),  # noqa: B009 - duck-typed config object
                fallback=bool(getattr(rule, "fallback", True)),
            )
            for rule in rules
        ]
        return cls(routes, prefer_on_net=prefer_on_net)

    def pool_for(self, e164: str, carrier: str | None) -> str:
        for route in self.routes:
            if route.matches(e164, carrier):
                return route.pool
        if self.prefer_on_net:
            key = carrier_key(carrier)
            if key:
                return f"carrier:{key}"
        return ANY_POOL


def pools_served(group: str | None, operator: str | None, *, on_net: bool) -> tuple[str, ...]:
    """The pools a SIM serves as a preferred taker, most specific first, then the open pool."""
    pools: list[str] = []
    if group:
        pools += [f"only:{group}", f"group:{group}"]
    key = carrier_key(operator)
    if on_net and key:
        pools.append(f"carrier:{key}")
    pools.append(ANY_POOL)
    return tuple(pools)


def is_strict(pool: str) -> bool:
    return pool.startswith("only:")

"""Modem dialects: one subclass per family, picked from `+CGMI`/`+CGMM`/`ATI` answers."""

from __future__ import annotations

from collections.abc import Sequence

from drivers.dialects.base import Dialect, GenericDialect, UsbId
from drivers.dialects.huawei import HuaweiDialect
from drivers.dialects.quectel import QuectelDialect
from drivers.dialects.sierra import SierraDialect
from drivers.dialects.simcom import SimcomDialect
from drivers.dialects.ublox import UbloxDialect

DIALECTS: tuple[type[Dialect], ...] = (
    SimcomDialect,
    QuectelDialect,
    HuaweiDialect,
    SierraDialect,
    UbloxDialect,
)


def detect(manufacturer: str, model: str, ati: Sequence[str] = ()) -> type[Dialect]:
    """First family whose markers appear in the identity strings; generic otherwise."""
    for dialect in DIALECTS:
        if dialect.matches(manufacturer, model, ati):
            return dialect
    return GenericDialect


def by_name(name: str) -> type[Dialect]:
    candidates: tuple[type[Dialect], ...] = (*DIALECTS, GenericDialect)
    for dialect in candidates:
        if dialect.name == name:
            return dialect
    raise KeyError(name)


__all__ = [
    "DIALECTS",
    "Dialect",
    "GenericDialect",
    "HuaweiDialect",
    "QuectelDialect",
    "SierraDialect",
    "SimcomDialect",
    "UbloxDialect",
    "UsbId",
    "by_name",
    "detect",
]

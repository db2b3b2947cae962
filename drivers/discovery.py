"""Find modems: list candidate ports, probe each briefly, identify each modem by its IMEI.

USB modems expose several ports (AT, PPP, DIAG, GPS/NMEA), and their `/dev/ttyUSBn` numbers
change on every re-enumeration (modem-behaviour rows 20-22). So: candidates come from
`/dev/serial/by-id` (stable names) plus explicit paths or globs; each is opened exclusively and
probed with short deadlines (a silent or binary port costs one probe budget, never a hang); the
ports that answer are grouped by IMEI, and one AT port per modem is kept, preferring the
interface its dialect documents.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace

from drivers.at import commands as at
from drivers.config import ModemConfig
from drivers.dialects import by_name
from drivers.errors import ModemError
from drivers.modem import Modem
from drivers.redact import mask_number

_LOG = logging.getLogger(__name__)

BY_ID_DIR = "/dev/serial/by-id"
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class FoundModem:
    """One modem: `path` is the AT port to open; `other_paths` are further AT-capable ports of
    the same modem (same IMEI)."""

    path: str
    imei: str
    manufacturer: str
    model: str
    dialect: str
    other_paths: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    path: str
    modem: FoundModem | None
    reason: str | None = None


def candidate_paths(
    paths: Iterable[str] = (), *, by_id_dir: str | None = BY_ID_DIR
) -> list[str]:
    """by-id links first (stable names), then explicit paths and globs; one name per device."""
    names: list[str] = []
    if by_id_dir and os.path.isdir(by_id_dir):
        names.extend(sorted(os.path.join(by_id_dir, n) for n in os.listdir(by_id_dir)))
    for path in paths:
        if "://" in path:
            names.append(path)
        elif _GLOB_CHARS & set(path):
            names.extend(sorted(glob.glob(path)))
        else:
            names.append(path)
    seen: set[str] = set()
    unique: list[str] = []
    for name in names:
        key = name if "://" in name else os.path.realpath(name)
        if key not in seen:
            seen.add(key)
            unique.append(name)
    return unique


def probe_config(probe_timeout: float) -> ModemConfig:
    return ModemConfig(
        command_timeout=probe_timeout,
        probe_timeout=probe_timeout,
        probe_attempts=2,
        connect_timeout=max(probe_timeout, 2.0),
        close_timeout=2.0,
    )


async def probe_port(path: str, *, probe_timeout: float = 1.0) -> FoundModem:
    """Open `path` exclusively, check that it speaks AT, read IMEI and identity, close it.

    Raises ModemError (PortOpenError, CommandTimeout...) when the port is busy, silent, binary
    or not a modem. The whole probe is bounded by a few probe deadlines.
    """
    config = probe_config(probe_timeout)
    budget = probe_timeout * 8 + config.connect_timeout
    modem: Modem | None = None
    try:
        async with asyncio.timeout(budget):
            modem = await Modem.open(path, name=path, config=config)
            await modem._probe()
            await modem._run(at.ECHO_OFF)
            imei = await modem._run(at.IMEI)
            manufacturer = await modem._optional(at.MANUFACTURER) or ""
            model = await modem._optional(at.MODEL) or ""
    except TimeoutError as exc:
        if isinstance(exc, ModemError):
            raise
        raise ModemError(f"{path}: probe took longer than {budget:g} s") from None
    finally:
        if modem is not None:
            await modem.close()
    from drivers.dialects import detect

    dialect = detect(manufacturer, model).name
    return FoundModem(path, imei, manufacturer, model, dialect)


async def _probe_outcome(path: str, probe_timeout: float, limit: asyncio.Semaphore) -> ProbeOutcome:
    async with limit:
        try:
            found = await probe_port(path, probe_timeout=probe_timeout)
        except ModemError as exc:
            _LOG.info("discovery: %s is not an AT port: %s", path, exc)
            return ProbeOutcome(path, None, str(exc))
    _LOG.info("discovery: %s answers AT: %s %s, IMEI %s",
              path, found.manufacturer, found.model, mask_number(found.imei))
    return ProbeOutcome(path, found)


async def probe_all(
    paths: Iterable[str] = (),
    *,
    by_id_dir: str | None = BY_ID_DIR,
    probe_timeout: float = 1.0,
    concurrency: int = 8,
) -> list[ProbeOutcome]:
    """Every candidate with what its probe found (or why it was skipped)."""
    limit = asyncio.Semaphore(concurrency)
    names = candidate_paths(paths, by_id_dir=by_id_dir)
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(_probe_outcome(n, probe_timeout, limit)) for n in names]
    return [task.result() for task in tasks]


async def discover(
    paths: Iterable[str] = (),
    *,
    by_id_dir: str | None = BY_ID_DIR,
    probe_timeout: float = 1.0,
    concurrency: int = 8,
) -> list[FoundModem]:
    """One entry per modem (by IMEI), with the AT port to use."""
    outcomes = await probe_all(
        paths, by_id_dir=by_id_dir, probe_timeout=probe_timeout, concurrency=concurrency
    )
    return group_by_imei([o.modem for o in outcomes if o.modem is not None])


def group_by_imei(found: Iterable[FoundModem]) -> list[FoundModem]:
    """Ports sharing an IMEI are one modem; keep the port its dialect names as the AT port."""
    groups: dict[str, list[FoundModem]] = {}
    for item in found:
        groups.setdefault(item.imei, []).append(item)
    result: list[FoundModem] = []
    for items in groups.values():
        hints = by_name(items[0].dialect).at_port_hints

        def rank(item: FoundModem, hints: tuple[str, ...] = hints) -> tuple[int, str]:
            preferred = any(h in os.path.basename(item.path) for h in hints)
            return (0 if preferred else 1, item.path)

        ordered = sorted(items, key=rank)
        best = ordered[0]
        result.append(replace(best, other_paths=tuple(i.path for i in ordered[1:])))
    return sorted(result, key=lambda m: m.path)


__all__ = [
    "BY_ID_DIR",
    "FoundModem",
    "ProbeOutcome",
    "candidate_paths",
    "discover",
    "group_by_imei",
    "probe_all",
    "probe_port",
]

"""How the pool opens a modem's tty, and the descriptor limit two hundred modems need.

The opening itself is the driver's `Modem.open` (exclusive, poll-based reads that work past
descriptor 1,024); this module only binds it to the pool's options, so the pool and the
supervisor keep one opener signature.
"""

from __future__ import annotations

import resource

from drivers.modem import DEFAULT_BAUDRATE, Modem
from gateway.modem_status import PoolOptions


async def open_modem(
    path: str, name: str, options: PoolOptions, baudrate: int = DEFAULT_BAUDRATE
) -> Modem:
    """The production opener for real and simulated modems alike (a tty path or a URL);
    `baudrate` is a modem's configured `baudrate` (UART modules only)."""
    return await Modem.open(path, name=name, config=options.modem, baudrate=baudrate)


def raise_open_file_limit() -> tuple[int, int]:
    """Lift the soft RLIMIT_NOFILE to the hard limit (systemd's default soft limit is 1,024,
    about two hundred modems at five descriptors each); returns the (soft, hard) now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft, hard
        return target, hard
    return soft, hard


__all__ = ["open_modem", "raise_open_file_limit"]

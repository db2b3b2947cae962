"""Where the installed service lives: the names `smsgw install`, `doctor` and `backup` share.

They mirror `systemd/smsgw.service`: the daemon runs as `smsgw` (group `dialout` for the modem
ports) with `StateDirectory=smsgw`, so systemd sets `$STATE_DIRECTORY=/var/lib/smsgw` for it. An
admin's shell has no such variable; the commands that look at the service's store put it back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

UNIT_NAME: Final = "smsgw.service"
SERVICE_USER: Final = "smsgw"
SERIAL_GROUP: Final = "dialout"
DEFAULT_PREFIX: Final = Path("/opt/smsgw")
CONFIG_DIRECTORY: Final = Path("/etc/smsgw")
STATE_DIRECTORY: Final = Path("/var/lib/smsgw")
BACKUP_DIRECTORY: Final = Path("/var/backups/smsgw")


def service_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment as the service sees it: `$STATE_DIRECTORY` set when it is not.

    Outside systemd the store's default would be `./var/smsgw.db` (handy for `make run`); a
    command aimed at the installed service means `/var/lib/smsgw/smsgw.db` unless told otherwise.
    """
    env = dict(os.environ if environ is None else environ)
    env.setdefault("STATE_DIRECTORY", str(STATE_DIRECTORY))
    return env


__all__ = [
    "BACKUP_DIRECTORY",
    "CONFIG_DIRECTORY",
    "DEFAULT_PREFIX",
    "SERIAL_GROUP",
    "SERVICE_USER",
    "STATE_DIRECTORY",
    "UNIT_NAME",
    "service_environ",
]

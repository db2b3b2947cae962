"""Per-modem settings that `ATZ`, `AT&F` and a reboot reset (the volatile profile)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Settings:
    echo: bool = True
    verbose: bool = True
    quiet: bool = False
    cmee: int = 0
    cmgf: int = 0  # 0 PDU mode, 1 text mode
    cscs: str = "IRA"
    csmp: tuple[int, int, int, int] = (17, 167, 0, 0)
    csdh: int = 0
    cnmi: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    mems: list[str] = field(default_factory=lambda: ["SM", "SM", "SM"])
    creg: int = 0
    cgreg: int = 0
    cereg: int = 0
    clip: int = 0
    crc: int = 0
    cmms: int = 0
    csms: int = 0
    cops_format: int = 0
    cvhu: int = 0
    curc: int = 1  # Huawei ^CURC: periodic vendor URCs on
    ussd_mode: int = 0  # Huawei ^USSDMODE
    cusd: int = 0
    sregs: dict[int, int] = field(default_factory=lambda: {0: 0, 3: 13, 4: 10, 5: 8, 7: 60})

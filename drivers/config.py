"""Deadlines and retry bounds for one modem, validated once and passed explicitly.

Every await on a device takes its deadline from here; tests shrink them to keep the suite fast.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class ModemConfig:
    command_timeout: float = 5.0  # ordinary queries and settings
    list_timeout: float = 30.0  # AT+CMGL over a full SIM
    prompt_timeout: float = 15.0  # `> ` after AT+CMGS (5-30 s in the field)
    submit_timeout: float = 180.0  # +CMGS after Ctrl-Z (SIM800 60 s, Quectel 120 s, MM 300 s)
    ussd_timeout: float = 30.0
    reset_timeout: float = 15.0  # AT+CFUN=1,1 answering OK
    boot_timeout: float = 60.0  # from reset to the modem answering AT again
    sim_ready_timeout: float = 30.0  # SIM busy / initialising after boot
    sms_ready_timeout: float = 45.0  # SMS commands answering ERROR until "SMS Ready"
    ready_timeout: float = 60.0  # an API call waiting for a re-init in progress
    probe_timeout: float = 1.5  # one AT probe (discovery, sync)
    probe_attempts: int = 3
    retry_interval: float = 1.0  # between polls while the SIM/SMS stack is not ready
    reinit_delay: float = 1.0  # after a boot banner, before re-running init
    connect_timeout: float = 10.0
    close_timeout: float = 5.0
    max_line: int = 4096
    storage: str = "SM"  # preferred message storage (dialects may override the default)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
                raise ValueError(f"ModemConfig.{f.name} must be positive, got {value!r}")
        if not self.storage.isalnum():
            raise ValueError("ModemConfig.storage must be a memory name like SM or ME")

    @classmethod
    def fast(cls, **overrides: float | int | str) -> ModemConfig:
        """Short deadlines for tests and simulators that answer at once."""
        base: dict[str, float | int | str] = {
            "command_timeout": 1.0,
            "list_timeout": 2.0,
            "prompt_timeout": 1.0,
            "submit_timeout": 2.0,
            "ussd_timeout": 2.0,
            "reset_timeout": 2.0,
            "boot_timeout": 5.0,
            "sim_ready_timeout": 2.0,
            "sms_ready_timeout": 3.0,
            "ready_timeout": 5.0,
            "probe_timeout": 0.5,
            "retry_interval": 0.05,
            "reinit_delay": 0.05,
            "connect_timeout": 3.0,
            "close_timeout": 2.0,
        }
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]


__all__ = ["ModemConfig"]

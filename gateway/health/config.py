"""`[health]`: how often modems are sampled and kept, when an alert is raised, and how a SIM's
balance is asked for by USSD.

    [health]
    history_interval_s = 60        # one history row per modem per minute (plus state changes)
    retention_hours = 72           # older rows are pruned
    [health.alerts]
    weak_signal_dbm = -100         # at or below: weak signal; recovers 4 dB above
    raise_after_s = 60             # a condition must hold this long before it alerts
    balance_min = 5.0              # prepaid balance under this: an alert (off when unset)
    [health.balance]
    interval_h = 24                # scheduled check per SIM (0: on demand only)
    default_code = "*100#"
    codes = { "262-01" = "*100#", "modem3" = "*101#", "89490200001234567890" = "*102#" }

A balance code is looked up by modem id, then ICCID, then operator (MCC-MNC as `262-01` or
`26201`, or the operator's name), then `default_code`; a SIM with none is never asked.
"""

from __future__ import annotations

import re
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_USSD = re.compile(r"^[0-9*#+]{2,32}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlertThresholds(_Section):
    weak_signal_dbm: int = Field(default=-100, ge=-130, le=-50)
    signal_hysteresis_db: int = Field(default=4, ge=0, le=30)
    storage_full_ratio: float = Field(default=0.9, gt=0, le=1)
    error_rate: float = Field(default=0.5, gt=0, le=1, description="failed share of attempts")
    error_min_attempts: int = Field(default=5, ge=1)
    error_window_s: float = Field(default=900.0, gt=0)
    balance_min: Decimal | None = Field(default=None, description="alert under this balance")
    raise_after_s: float = Field(default=60.0, ge=0, description="condition held this long")


class BalanceConfig(_Section):
    codes: dict[str, str] = Field(default_factory=dict)
    default_code: str | None = None
    interval_h: float = Field(default=24.0, ge=0, description="0: only on demand")
    timeout_s: float = Field(default=30.0, gt=0, le=180)
    pattern: str | None = Field(
        default=None, description="regular expression with a group named amount (and currency)"
    )

    @field_validator("codes")
    @classmethod
    def _codes(cls, value: dict[str, str]) -> dict[str, str]:
        for key, code in value.items():
            if not _USSD.match(code):
                raise ValueError(f"{key}: {code!r} is not a USSD code such as *100#")
        return value

    @field_validator("default_code")
    @classmethod
    def _default(cls, value: str | None) -> str | None:
        if value is not None and not _USSD.match(value):
            raise ValueError(f"{value!r} is not a USSD code such as *100#")
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if "amount" not in compiled.groupindex:
            raise ValueError("the pattern needs a group named amount: (?P<amount>...)")
        return value


class HealthConfig(_Section):
    tick_s: float = Field(default=2.0, gt=0, le=60, description="sampling and feed interval")
    history_interval_s: float = Field(default=60.0, ge=1)
    retention_hours: float = Field(default=72.0, gt=0)
    sparkline_hours: float = Field(default=6.0, gt=0, le=48)
    alerts: AlertThresholds = AlertThresholds()
    balance: BalanceConfig = BalanceConfig()


__all__ = ["AlertThresholds", "BalanceConfig", "HealthConfig"]

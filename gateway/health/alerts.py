"""Thresholds -> alerts: pure bookkeeping of which alert is raised for which modem.

Every sample of a modem becomes a `Reading`; each alert kind looks at it and says *bad* (with
the value that is), *good*, or nothing (the reading cannot tell: a SIM alert while the modem is
gone, a signal while the port is closed). A bad condition must hold `raise_after_s` before the
alert is raised, so a flap does not page anyone; it recovers on the first good reading, with
hysteresis where a value hovers at a threshold (signal, storage, error rate). The evaluator
returns the changes; the monitor persists them, logs them and sends them as `modem.health`
webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from .config import AlertThresholds


class AlertKind(StrEnum):
    WEAK_SIGNAL = "weak_signal"
    REGISTRATION_LOST = "registration_lost"
    SIM_MISSING = "sim_missing"
    SIM_LOCKED = "sim_locked"
    STORAGE_FULL = "storage_full"
    BALANCE_LOW = "balance_low"
    QUARANTINED = "quarantined"
    ERROR_RATE_HIGH = "error_rate_high"


_REGISTERED = frozenset({1, 5, 6, 7})
_OPEN_PORT = frozenset({"ready", "degraded"})  # states in which the last poll is current
_LOCKED = frozenset({"pin_required", "puk_required"})


@dataclass(frozen=True, slots=True)
class Reading:
    """What one sample says about one modem: the inputs of every threshold."""

    modem_id: str
    state: str
    sim_state: str | None = None
    registration: int | None = None
    signal_dbm: int | None = None
    storage_used: int | None = None
    storage_total: int | None = None
    balance: Decimal | None = None
    attempts: int = 0  # submits finished within the error window
    errors: int = 0  # of which failed


@dataclass(frozen=True, slots=True)
class Alert:
    modem_id: str
    kind: AlertKind
    raised_at: datetime
    value: str | None
    threshold: str | None
    detail: str

    def as_json(self) -> dict[str, str | None]:
        return {
            "modem_id": self.modem_id,
            "kind": self.kind.value,
            "raised_at": self.raised_at.isoformat(timespec="seconds"),
            "value": self.value,
            "threshold": self.threshold,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class AlertChange:
    alert: Alert
    raised: bool  # False: recovered
    at: datetime


@dataclass(frozen=True, slots=True)
class _Bad:
    value: str | None
    threshold: str | None
    detail: str


_GOOD = "good"
Verdict = _Bad | str | None  # bad, good, or cannot tell


def _signal(r: Reading, t: AlertThresholds, active: bool) -> Verdict:
    if r.state not in _OPEN_PORT or r.signal_dbm is None:
        return None
    limit = t.weak_signal_dbm + (t.signal_hysteresis_db if active else 0)
    if r.signal_dbm <= limit:
        return _Bad(f"{r.signal_dbm} dBm", f"{t.weak_signal_dbm} dBm",
                    f"signal {r.signal_dbm} dBm (alert at {t.weak_signal_dbm} dBm or below)")
    return _GOOD


def _registration(r: Reading, t: AlertThresholds, active: bool) -> Verdict:
    if r.state not in _OPEN_PORT or r.sim_state != "ready":
        return None  # a SIM problem is its own alert; a closed port tells nothing
    if r.registration in _REGISTERED:
        return _GOOD
    return _Bad(str(r.registration), None,
                f"not registered on the network (+CREG stat {r.registration})")


def _sim_missing(r: Reading, t: AlertThresholds, active: bool) -> Verdict:
    if r.sim_state == "not_inserted":
        return _Bad("not_inserted", None, "no SIM card (removed or not making contact)")
    return _GOOD if r.sim_state == "ready" else None


def _sim_locked(r: Reading, t: AlertThresholds, active: bool) -> Verdict:
    if r.sim_state in _LOCKED:
        return _Bad(r.sim_state, None, f"SIM locked ({r.sim_state.replace('_', ' ')})")
    return _GOOD if r.sim_state == "ready" else None


def _storage(r: Reading, t: AlertThresholds, active: bool) -> Verdict:
    if r.storage_used is None or not r.storage_total:
        return None
    ratio = r.storage_used / r.storage_total
    limit = t.storage_full_ratio - (0.1 if active else 0.0)
    if ratio >= limit:
        return _Bad(f"{r.storage_used}/{r.storage_total}", f"{t.storage_full_ratio:.0%}",
                    f"SMS storage {r.storage_used} of {r.storage_total} used")
    return _GOOD


def _balance(r: Reading, t: AlertThresholds, active: bool) -> Verdict:
    if t.balance_min is None:
        return _GOOD
    if r.balance is None:
        return None
    if r.balance < t.balance_min:
        return _Bad(str(r.balance), str(t.balance_min),
                    f"prepaid balance {r.balance} under {t.balance_min}")
    return _GOOD


def _quarantined(r: Reading, t: AlertThresholds, active: bool) -> Verdict:
    if r.state == "quarantined":
        return _Bad("quarantined", None, "modem quarantined (out of service, backing off)")
    return _GOOD if r.state in _OPEN_PORT else None


def _error_rate(r: Reading, t: AlertThresholds, active: bool) -> Verdict:
    if r.attempts < t.error_min_attempts:
        return _GOOD
    rate = r.errors / r.attempts
    limit = t.error_rate / 2 if active else t.error_rate
    if rate >= limit:
        return _Bad(f"{rate:.0%}", f"{t.error_rate:.0%}",
                    f"{r.errors} of {r.attempts} submits failed in the last "
                    f"{t.error_window_s / 60:g} min")
    return _GOOD


_CHECKS = {
    AlertKind.WEAK_SIGNAL: _signal,
    AlertKind.REGISTRATION_LOST: _registration,
    AlertKind.SIM_MISSING: _sim_missing,
    AlertKind.SIM_LOCKED: _sim_locked,
    AlertKind.STORAGE_FULL: _storage,
    AlertKind.BALANCE_LOW: _balance,
    AlertKind.QUARANTINED: _quarantined,
    AlertKind.ERROR_RATE_HIGH: _error_rate,
}


class AlertEvaluator:
    def __init__(self, thresholds: AlertThresholds) -> None:
        self.thresholds = thresholds
        self._active: dict[tuple[str, AlertKind], Alert] = {}
        self._pending: dict[tuple[str, AlertKind], datetime] = {}

    def restore(self, alerts: list[Alert]) -> None:
        """Alerts still open from the last run: not raised again, recovered when they do."""
        for alert in alerts:
            self._active[(alert.modem_id, alert.kind)] = alert

    @property
    def active(self) -> list[Alert]:
        return sorted(self._active.values(), key=lambda a: (a.modem_id, a.raised_at))

    def active_for(self, modem_id: str) -> list[Alert]:
        return [a for (m, _k), a in self._active.items() if m == modem_id]

    def update(self, reading: Reading, now: datetime) -> list[AlertChange]:
        changes: list[AlertChange] = []
        hold = timedelta(seconds=self.thresholds.raise_after_s)
        for kind, check in _CHECKS.items():
            key = (reading.modem_id, kind)
            current = self._active.get(key)
            verdict = check(reading, self.thresholds, current is not None)
            if isinstance(verdict, _Bad):
                if current is not None:
                    continue
                since = self._pending.setdefault(key, now)
                if now - since >= hold:
                    del self._pending[key]
                    alert = Alert(reading.modem_id, kind, now, verdict.value, verdict.threshold,
                                  verdict.detail)
                    self._active[key] = alert
                    changes.append(AlertChange(alert, True, now))
            elif verdict == _GOOD:
                self._pending.pop(key, None)
                if current is not None:
                    del self._active[key]
                    changes.append(AlertChange(current, False, now))
        return changes


__all__ = ["Alert", "AlertChange", "AlertEvaluator", "AlertKind", "Reading"]

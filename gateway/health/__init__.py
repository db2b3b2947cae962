"""SIM and modem health: history, thresholds and alerts, USSD balance, traffic figures.

`HealthMonitor` (monitor.py) samples the pool and follows the store's feeds; `alerts.py` is the
pure threshold logic, `ussd.py` the balance code look-up and answer parser, `history.py` the
tables of `0003_health.sql`, `overview.py` the JSON of the status page and `smsgw status`.
"""

from .alerts import Alert, AlertChange, AlertEvaluator, AlertKind, Reading
from .config import AlertThresholds, BalanceConfig, HealthConfig
from .monitor import BalanceUnavailableError, Event, HealthMonitor
from .ussd import Balance, balance_code, parse_balance

__all__ = [
    "Alert",
    "AlertChange",
    "AlertEvaluator",
    "AlertKind",
    "AlertThresholds",
    "Balance",
    "BalanceConfig",
    "BalanceUnavailableError",
    "Event",
    "HealthConfig",
    "HealthMonitor",
    "Reading",
    "balance_code",
    "parse_balance",
]

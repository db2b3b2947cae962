"""Customer-service messaging: consent and opt-out, quiet hours, frequency caps, templates,
campaigns, conversations, keyword rules, triggered messages, one-time codes and reports.

Everything here is enforced inside the gateway for every SIM and every API: the policy gate
(`policy.PolicyGate.review`) sits on the one door every message comes through
(`gateway.submit.Submitter`), and the inbound processor (`processor.InboundProcessor`) handles
STOP/START/HELP, rules and conversation threading for every received message. `Messaging`
(`service.py`) builds and holds the parts.

Importing this package is cheap and imports nothing of the gateway (`gateway.config` imports
`gateway.messaging.config`); `Messaging` and friends load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import MessagingConfig
    from .service import Messaging, MessagingError, secret_for_database

_LAZY = {"MessagingConfig": ".config", "Messaging": ".service", "MessagingError": ".service",
         "secret_for_database": ".service"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


__all__ = ["Messaging", "MessagingConfig", "MessagingError", "secret_for_database"]

"""Customer-service messaging: consent and opt-out, quiet hours, frequency caps, templates,
campaigns, conversations, keyword rules, triggered messages, one-time codes and reports.

Everything here is enforced inside the gateway for every SIM and every API: the policy gate
(`policy.PolicyGate.review`) sits on the one door every message comes through
(`gateway.submit.Submitter`), and the inbound processor (`processor.InboundProcessor`) handles
STOP/START/HELP, rules and conversation threading for every received message. `Messaging`
(`service.py`) builds and holds the parts.
"""

from .config import MessagingConfig
from .service import Messaging, MessagingError, secret_for_database

__all__ = ["Messaging", "MessagingConfig", "MessagingError", "secret_for_database"]

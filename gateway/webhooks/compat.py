"""Twilio's and Kannel's words for what happened to a message, shared by the compatible HTTP
endpoints (answers) and the webhook outbox (callbacks), so both say the same thing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from gateway.store.models import MessageStatus

API_VERSION = "2010-04-01"
SID_PREFIX = "SM"
# The key in a message's metadata under which compatible endpoints keep how to call back.
CALLBACK_META = "smsgw:callback"

_TWILIO_STATUS = {
    MessageStatus.QUEUED: "queued",
    MessageStatus.SCHEDULED: "scheduled",
    MessageStatus.SENDING: "sending",
    MessageStatus.SENT: "sent",
    MessageStatus.DELIVERED: "delivered",
    MessageStatus.UNDELIVERED: "undelivered",
    MessageStatus.FAILED: "failed",
    MessageStatus.CANCELED: "canceled",
    MessageStatus.EXPIRED: "failed",  # Twilio has no "expired": failed with 30001
}

# Twilio's delivery error codes (30001-30008) for the errors the gateway records.
_CMS_UNKNOWN = {1, 28, 30}
_CMS_UNREACHABLE = {27, 31}


def twilio_status(status: MessageStatus) -> str:
    return _TWILIO_STATUS[status]


def twilio_error(status: MessageStatus, error_code: str | None) -> tuple[int | None, str | None]:
    """(code, message) Twilio would give for this outcome, or (None, None)."""
    if status is MessageStatus.EXPIRED:
        return 30001, "Queue overflow: the message expired before it could be sent"
    if status not in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
        return None, None
    match = re.fullmatch(r"CMS (\d+)", error_code or "")
    if match is not None:
        code = int(match.group(1))
        if code in _CMS_UNKNOWN:
            return 30005, "Unknown destination handset"
        if code in _CMS_UNREACHABLE:
            return 30003, "Unreachable destination handset"
    if (error_code or "").startswith("TP-ST"):
        return 30003, "Unreachable destination handset"
    return 30008, "Unknown error"


def sid(message_id: str) -> str:
    return SID_PREFIX + message_id


def message_id_from_sid(value: str) -> str:
    return value.removeprefix(SID_PREFIX)


def callback_meta(metadata: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not metadata:
        return {}
    meta = metadata.get(CALLBACK_META)
    return meta if isinstance(meta, dict) else {}


def public_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The caller's metadata without the gateway's reserved keys."""
    if metadata is None:
        return None
    return {k: v for k, v in metadata.items() if not k.startswith("smsgw:")}


# --- Kannel ----------------------------------------------------------------------------------

DLR_DELIVERED = 1
DLR_UNDELIVERED = 2
DLR_BUFFERED = 4
DLR_SMSC_ACK = 8
DLR_SMSC_NACK = 16

_DLR = {
    MessageStatus.SENT: (DLR_SMSC_ACK, "ACK/"),
    MessageStatus.DELIVERED: (DLR_DELIVERED, "DELIVRD"),
    MessageStatus.UNDELIVERED: (DLR_UNDELIVERED, "UNDELIV"),
    MessageStatus.EXPIRED: (DLR_UNDELIVERED, "EXPIRED"),
    MessageStatus.FAILED: (DLR_SMSC_NACK, "NACK/"),
}


def kannel_dlr(status: MessageStatus, error_code: str | None) -> tuple[int, str] | None:
    """(dlr type, SMSC reply text) for a status Kannel reports, or None."""
    found = _DLR.get(status)
    if found is None:
        return None
    kind, reply = found
    if status is MessageStatus.FAILED and error_code:
        reply += error_code
    return kind, reply


def expand_dlr_url(template: str, values: Mapping[str, str]) -> str:
    """Replace Kannel's `%x` placeholders (URL-encoded); unknown ones are left as they are."""

    def one(match: re.Match[str]) -> str:
        letter = match.group(1)
        if letter == "%":
            return "%"
        if letter in values:
            return quote(values[letter], safe="")
        return match.group(0)

    return re.sub(r"%(.)", one, template)


def kannel_values(
    *, dlr_type: int, reply: str, message_id: str, to: str, sender: str, at: datetime,
    modem_id: str | None,
) -> dict[str, str]:
    return {
        "d": str(dlr_type),
        "A": reply,
        "F": message_id,
        "I": message_id,
        "p": to,
        "P": sender,
        "t": at.strftime("%Y-%m-%d %H:%M:%S"),
        "T": str(int(at.timestamp())),
        "i": modem_id or "",
    }


__all__ = [
    "API_VERSION",
    "CALLBACK_META",
    "callback_meta",
    "expand_dlr_url",
    "kannel_dlr",
    "kannel_values",
    "message_id_from_sid",
    "public_metadata",
    "sid",
    "twilio_error",
    "twilio_status",
]

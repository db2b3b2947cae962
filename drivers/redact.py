"""Log redaction: phone numbers, message text and PDUs never reach a log line in clear.

AT traffic is logged at debug level for diagnosis; what it carries about people (numbers in
`+CLIP`/`+CNUM`, USSD text, PDU hex, IMSI/ICCID) is masked here, once, for every logger.
"""

from __future__ import annotations

import re

_HEX_RUN = re.compile(r"\b[0-9A-Fa-f]{24,}\b")
_DIGITS = re.compile(r"\+?\d{7,}")
_QUOTED = re.compile(r'"([^"]{6,})"')
_TEXT_PREFIXES = ("+CUSD:", "+CMGS=", "AT+CUSD=", "+CNUM:", "+CLIP:", "+COPS:")


def mask_number(number: str) -> str:
    """Keep the last 2 digits, enough to tell two numbers apart in a log without exposing one."""
    digits = number.lstrip("+")
    if len(digits) <= 4:
        return "*" * len(number)
    return ("+" if number.startswith("+") else "") + "*" * (len(digits) - 2) + digits[-2:]


def redact_pdu(pdu: str) -> str:
    return f"<pdu {len(pdu) // 2} octets>"


def redact_line(line: str) -> str:
    """One AT line as it may be logged."""
    text = _HEX_RUN.sub(lambda m: redact_pdu(m.group(0)), line)
    if text.startswith(_TEXT_PREFIXES):
        text = _QUOTED.sub(lambda m: f'"<{len(m.group(1))} chars>"', text)
    return _DIGITS.sub(lambda m: mask_number(m.group(0)), text)


__all__ = ["mask_number", "redact_line", "redact_pdu"]

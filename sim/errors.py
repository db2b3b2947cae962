"""Error results a simulated modem can give, as data: code -> the verbose text of TS 27.005/27.007.

The simulator is the driver's adversary, so it owns its own table instead of importing the
driver's: a mistake in one is then caught by the other. `AtError` is raised by command handlers
and rendered by the modem according to `+CMEE` (bare `ERROR`, numeric code, or verbose text).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ErrorDomain(StrEnum):
    CMS = "CMS"  # SMS errors, TS 27.005 3.2.5
    CME = "CME"  # equipment errors, TS 27.007 9.2
    PLAIN = "PLAIN"  # a bare ERROR whatever +CMEE says (unknown commands, syntax)


CMS_TEXT: Final[dict[int, str]] = {
    1: "Unassigned (unallocated) number",
    8: "Operator determined barring",
    10: "Call barred",
    21: "Short message transfer rejected",
    27: "Destination out of service",
    28: "Unidentified subscriber",
    29: "Facility rejected",
    30: "Unknown subscriber",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Congestion",
    47: "Resources unavailable, unspecified",
    50: "Requested facility not subscribed",
    69: "Requested facility not implemented",
    95: "Invalid short message transfer reference value",
    96: "Invalid message, unspecified",
    111: "Protocol error, unspecified",
    127: "Interworking, unspecified",
    192: "SC busy",
    193: "No SC subscription",
    194: "SC system failure",
    195: "Invalid SME address",
    196: "Destination SME barred",
    208: "D0 SIM SMS storage full",
    300: "ME failure",
    301: "SMS service of ME reserved",
    302: "Operation not allowed",
    303: "Operation not supported",
    304: "Invalid PDU mode parameter",
    305: "Invalid text mode parameter",
    310: "SIM not inserted",
    311: "SIM PIN required",
    312: "PH-SIM PIN required",
    313: "SIM failure",
    314: "SIM busy",
    315: "SIM wrong",
    316: "SIM PUK required",
    317: "SIM PIN2 required",
    318: "SIM PUK2 required",
    320: "Memory failure",
    321: "Invalid memory index",
    322: "Memory full",
    330: "SMSC address unknown",
    331: "No network service",
    332: "Network timeout",
    340: "No +CNMA acknowledgement expected",
    500: "Unknown error",
    512: "SMS send/receive collision",
}

CME_TEXT: Final[dict[int, str]] = {
    0: "phone failure",
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    15: "SIM wrong",
    16: "incorrect password",
    20: "memory full",
    21: "invalid index",
    22: "not found",
    23: "memory failure",
    24: "text string too long",
    25: "invalid characters in text string",
    30: "no network service",
    31: "network timeout",
    50: "Incorrect parameters",
    100: "unknown",
}


class AtError(Exception):
    """A command's final error result; the modem renders it per `+CMEE`."""

    def __init__(self, domain: ErrorDomain, code: int = 0) -> None:
        super().__init__(f"{domain.value} {code}")
        self.domain = domain
        self.code = code

    @classmethod
    def cms(cls, code: int) -> AtError:
        return cls(ErrorDomain.CMS, code)

    @classmethod
    def cme(cls, code: int) -> AtError:
        return cls(ErrorDomain.CME, code)

    @classmethod
    def plain(cls) -> AtError:
        return cls(ErrorDomain.PLAIN, 0)

    def render(self, cmee: int) -> str:
        """The final result line (without CRLF) as a modem with this `+CMEE` setting prints it."""
        if self.domain is ErrorDomain.PLAIN or cmee == 0:
            return "ERROR"
        if cmee == 2:
            table = CMS_TEXT if self.domain is ErrorDomain.CMS else CME_TEXT
            text = table.get(self.code)
            if text is not None:
                return f"+{self.domain.value} ERROR: {text}"
        return f"+{self.domain.value} ERROR: {self.code}"


# Common shorthands used by the handlers.
CME_NOT_ALLOWED: Final = 3
CME_NOT_SUPPORTED: Final = 4
CME_SIM_NOT_INSERTED: Final = 10
CME_SIM_PIN: Final = 11
CME_SIM_PUK: Final = 12
CME_SIM_BUSY: Final = 14
CME_BAD_PASSWORD: Final = 16
CME_INVALID_INDEX: Final = 21
CME_NO_NETWORK: Final = 30
CME_BAD_PARAMS: Final = 50
CMS_ME_FAILURE: Final = 300
CMS_NOT_ALLOWED: Final = 302
CMS_NOT_SUPPORTED: Final = 303
CMS_BAD_PDU: Final = 304
CMS_BAD_TEXT: Final = 305
CMS_SIM_NOT_INSERTED: Final = 310
CMS_SIM_PIN: Final = 311
CMS_SIM_PUK: Final = 316
CMS_SIM_BUSY: Final = 314
CMS_INVALID_INDEX: Final = 321
CMS_MEMORY_FULL: Final = 322
CMS_NO_SMSC: Final = 330
CMS_NO_NETWORK: Final = 331
CMS_NO_CNMA_EXPECTED: Final = 340
CMS_UNKNOWN: Final = 500

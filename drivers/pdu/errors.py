"""The one exception a PDU decoder may raise, with a machine-readable reason.

PDUs come from the network and from modems that mangle them, so the decoder treats every byte as
hostile: whatever goes wrong surfaces as a `PduError` whose `reason` says which rule was broken and
`offset` (when known) where in the octets it happened. Callers branch on the subclass or on
`reason`, never on the message text.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    BAD_HEX = "bad-hex"
    TOO_LONG = "too-long"
    TRUNCATED = "truncated"
    LENGTH_BEYOND_DATA = "length-beyond-data"
    RESERVED_MESSAGE_TYPE = "reserved-message-type"
    HEADER_OVERRUN = "header-overrun"
    ODD_UCS2_LENGTH = "odd-ucs2-length"
    BAD_ADDRESS = "bad-address"
    BAD_TIMESTAMP = "bad-timestamp"
    UNSUPPORTED = "unsupported"
    BAD_ARGUMENT = "bad-argument"
    UNEXPECTED_KIND = "unexpected-kind"


class PduError(ValueError):
    """A PDU could not be decoded (or a message could not be encoded); `reason` says why."""

    reason: Reason = Reason.UNSUPPORTED

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset

    def __str__(self) -> str:
        base = super().__str__()
        return base if self.offset is None else f"{base} (at octet {self.offset})"


class BadHexError(PduError):
    reason = Reason.BAD_HEX


class PduTooLongError(PduError):
    reason = Reason.TOO_LONG


class TruncatedError(PduError):
    """A fixed-size field runs past the end of the data."""

    reason = Reason.TRUNCATED


class LengthBeyondDataError(TruncatedError):
    """A length octet (address length, TP-UDL, SMSC length) claims more than is there."""

    reason = Reason.LENGTH_BEYOND_DATA


class ReservedMessageTypeError(PduError):
    reason = Reason.RESERVED_MESSAGE_TYPE


class HeaderOverrunError(PduError):
    """The user data header (or one of its elements) is longer than the user data."""

    reason = Reason.HEADER_OVERRUN


class OddUcs2LengthError(PduError):
    reason = Reason.ODD_UCS2_LENGTH


class BadAddressError(PduError):
    reason = Reason.BAD_ADDRESS


class BadTimestampError(PduError):
    reason = Reason.BAD_TIMESTAMP


class UnsupportedError(PduError):
    """Well-formed but outside what the codec implements (e.g. compressed user data)."""

    reason = Reason.UNSUPPORTED


class UnexpectedKindError(PduError):
    """A well-formed PDU of another type than the context requires (e.g. a DELIVER after +CDS)."""

    reason = Reason.UNEXPECTED_KIND


class EncodeArgumentError(PduError):
    """An encoder was asked for something the format cannot carry."""

    reason = Reason.BAD_ARGUMENT

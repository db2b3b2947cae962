"""decode_pdu: hex or octets from a modem -> Deliver | Submit | StatusReport, or a PduError.

The decoder is total: every path either returns a message or raises a `PduError`, and the work is
linear in an input whose size is capped up front. The message type is read the way a modem
presents stored and received messages (MTI 0 deliver, 1 submit, 2 status report).
"""

from __future__ import annotations

from typing import Final

from .address import decode_address, decode_smsc
from .errors import (
    BadHexError,
    PduError,
    PduTooLongError,
    ReservedMessageTypeError,
    TruncatedError,
    UnexpectedKindError,
)
from .model import Address, Deliver, Pdu, StatusReport, Submit, UserData, Validity
from .timefields import decode_timestamp, relative_validity
from .userdata import decode_user_data

#: Longest input accepted, in octets: an SMSC prefix (12) plus the largest TPDU (176), with room
#: for the padding some modems append to stored records.
MAX_OCTETS: Final = 512

_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


def _to_octets(pdu: str | bytes | bytearray | memoryview) -> bytes:
    if isinstance(pdu, str):
        text = pdu.strip()
        if len(text) > 2 * MAX_OCTETS:
            raise PduTooLongError(f"PDU of {len(text)} hex digits is longer than {2 * MAX_OCTETS}")
        if len(text) % 2:
            raise BadHexError(f"odd number of hex digits ({len(text)})")
        try:
            octets = bytes.fromhex(text)
        except ValueError:
            bad = next((i for i, c in enumerate(text) if c not in _HEX_DIGITS), None)
            raise BadHexError(
                "PDU is not hexadecimal"
                + (f": {text[bad]!r} at position {bad}" if bad is not None else "")
            ) from None
        if len(octets) * 2 != len(text):
            raise BadHexError("whitespace inside the PDU hex")
        return octets
    if isinstance(pdu, bytes | bytearray | memoryview):
        octets = bytes(pdu)
        if len(octets) > MAX_OCTETS:
            raise PduTooLongError(f"PDU of {len(octets)} octets is longer than {MAX_OCTETS}")
        return octets
    raise BadHexError(f"a PDU is hex text or octets, not {type(pdu).__name__}")


def decode_pdu(pdu: str | bytes | bytearray | memoryview, *, has_smsc: bool = True) -> Pdu:
    """Decode a PDU as `AT+CMGR`/`AT+CMGL`/`+CMT`/`+CDS` print it.

    `pdu` is hex text (as the modem prints it) or the raw octets. `has_smsc=False` for a bare
    TPDU (no SMSC prefix). Raises only `PduError`.
    """
    data = _to_octets(pdu)
    try:
        return _decode(data, has_smsc)
    except PduError:
        raise
    except (IndexError, ValueError, OverflowError) as exc:  # pragma: no cover - defence in depth
        raise PduError(f"malformed PDU: {exc}") from None


def decode_deliver(pdu: str | bytes | bytearray | memoryview, *, has_smsc: bool = True) -> Deliver:
    """`decode_pdu` for contexts that only ever carry SMS-DELIVER (`+CMT`, inbox reads)."""
    decoded = decode_pdu(pdu, has_smsc=has_smsc)
    if not isinstance(decoded, Deliver):
        raise UnexpectedKindError(f"expected an SMS-DELIVER, got {decoded.kind}")
    return decoded


def decode_submit(pdu: str | bytes | bytearray | memoryview, *, has_smsc: bool = True) -> Submit:
    """`decode_pdu` for contexts that only ever carry SMS-SUBMIT (outbox reads, the simulator)."""
    decoded = decode_pdu(pdu, has_smsc=has_smsc)
    if not isinstance(decoded, Submit):
        raise UnexpectedKindError(f"expected an SMS-SUBMIT, got {decoded.kind}")
    return decoded


def decode_status_report(
    pdu: str | bytes | bytearray | memoryview, *, has_smsc: bool = True
) -> StatusReport:
    """`decode_pdu` for contexts that only ever carry SMS-STATUS-REPORT (`+CDS`)."""
    decoded = decode_pdu(pdu, has_smsc=has_smsc)
    if not isinstance(decoded, StatusReport):
        raise UnexpectedKindError(f"expected an SMS-STATUS-REPORT, got {decoded.kind}")
    return decoded


def _decode(data: bytes, has_smsc: bool) -> Pdu:
    if has_smsc:
        smsc, offset = decode_smsc(data)
    else:
        smsc, offset = None, 0
    if offset >= len(data):
        raise TruncatedError("no TPDU after the SMSC address", offset=offset)
    first = data[offset]
    mti = first & 0x03
    if mti == 0:
        return _deliver(data, offset, smsc)
    if mti == 1:
        return _submit(data, offset, smsc)
    if mti == 2:
        return _status_report(data, offset, smsc)
    raise ReservedMessageTypeError("message type indicator 3 is reserved", offset=offset)


def _need(data: bytes, offset: int, count: int, what: str) -> None:
    if offset + count > len(data):
        raise TruncatedError(f"{what} truncated", offset=offset)


def _deliver(data: bytes, offset: int, smsc: Address | None) -> Deliver:
    first = data[offset]
    sender, offset = decode_address(data, offset + 1)
    if offset + 9 > len(data):
        raise TruncatedError("TP-PID/TP-DCS/TP-SCTS truncated", offset=offset)
    user_data, end = decode_user_data(data, offset + 9, data[offset + 1], first & 0x40 != 0)
    return Deliver(
        smsc=smsc,
        sender=sender,
        timestamp=decode_timestamp(data[offset + 2 : offset + 9], offset + 2),
        pid=data[offset],
        user_data=user_data,
        more_messages_to_send=first & 0x04 == 0,  # TP-MMS set means "no more messages"
        reply_path=first & 0x80 != 0,
        status_report_indication=first & 0x20 != 0,
        trailing=data[end:],
    )


def _submit(data: bytes, offset: int, smsc: Address | None) -> Submit:
    first = data[offset]
    _need(data, offset + 1, 1, "TP-MR")
    reference = data[offset + 1]
    destination, offset = decode_address(data, offset + 2)
    _need(data, offset, 2, "TP-PID/TP-DCS")
    pid = data[offset]
    dcs = data[offset + 1]
    offset += 2
    vpf = (first >> 3) & 0x03
    validity: Validity | None = None
    if vpf == 2:
        _need(data, offset, 1, "TP-VP")
        validity = relative_validity(data[offset])
        offset += 1
    elif vpf == 3:
        _need(data, offset, 7, "TP-VP")
        raw = data[offset : offset + 7]
        validity = Validity("absolute", timestamp=decode_timestamp(raw, offset), raw=raw)
        offset += 7
    elif vpf == 1:
        _need(data, offset, 7, "TP-VP")
        validity = Validity("enhanced", raw=data[offset : offset + 7])
        offset += 7
    user_data, end = decode_user_data(data, offset, dcs, bool(first & 0x40))
    return Submit(
        smsc=smsc,
        message_reference=reference,
        destination=destination,
        pid=pid,
        user_data=user_data,
        validity=validity,
        request_status_report=bool(first & 0x20),
        reject_duplicates=bool(first & 0x04),
        reply_path=bool(first & 0x80),
        trailing=data[end:],
    )


def _status_report(data: bytes, offset: int, smsc: Address | None) -> StatusReport:
    first = data[offset]
    _need(data, offset + 1, 1, "TP-MR")
    reference = data[offset + 1]
    recipient, offset = decode_address(data, offset + 2)
    _need(data, offset, 15, "TP-SCTS/TP-DT/TP-ST")
    scts = decode_timestamp(data[offset : offset + 7], offset)
    discharge = decode_timestamp(data[offset + 7 : offset + 14], offset + 7)
    status = data[offset + 14]
    offset += 15
    pid: int | None = None
    user_data: UserData | None = None
    tail = data[offset:]
    # Optional TP-PI and what it announces; SIM records pad with 0xFF, which is not a TP-PI.
    if tail and tail.count(0xFF) != len(tail):
        indicator = data[offset]
        offset += 1
        while data[offset - 1] & 0x80 and offset < len(data):  # extension octets: skip
            offset += 1
        if indicator & 0x01:
            _need(data, offset, 1, "TP-PID")
            pid = data[offset]
            offset += 1
        dcs = 0
        if indicator & 0x02:
            _need(data, offset, 1, "TP-DCS")
            dcs = data[offset]
            offset += 1
        if indicator & 0x04:
            user_data, offset = decode_user_data(data, offset, dcs, bool(first & 0x40))
    return StatusReport(
        smsc=smsc,
        message_reference=reference,
        recipient=recipient,
        scts=scts,
        discharge_time=discharge,
        status=status,
        more_messages_to_send=first & 0x04 == 0,
        status_report_qualifier=bool(first & 0x20),
        pid=pid,
        user_data=user_data,
    )

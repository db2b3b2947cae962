"""Re-addressing a submitted TPDU as the SMS-DELIVER the recipient's phone gets.

A real SMSC forwards the user data untouched: same DCS, same UDH (concatenation reference,
ports), same packed septets. The codec's text API would re-split and re-encode, so the few
header octets are rebuilt here and the user data is copied byte for byte.
"""

from __future__ import annotations

from datetime import datetime

from drivers.pdu import PduError, parse_address
from drivers.pdu.address import encode_address, encode_smsc
from drivers.pdu.timefields import encode_timestamp


def split_smsc(pdu: bytes) -> tuple[bytes, bytes]:
    """Whole PDU -> (SMSC prefix, TPDU). Raises PduError when the prefix overruns the data."""
    if not pdu:
        raise PduError("empty PDU")
    end = 1 + pdu[0]
    if end > len(pdu):
        raise PduError("SMSC length runs past the data")
    return pdu[:end], pdu[end:]


def submit_user_data(tpdu: bytes) -> tuple[int, int, bool, bytes]:
    """An SMS-SUBMIT TPDU -> (PID, DCS, UDHI, TP-UDL + TP-UD octets)."""
    if len(tpdu) < 4:
        raise PduError("SMS-SUBMIT too short")
    first = tpdu[0]
    vpf = (first >> 3) & 0x03
    da_digits = tpdu[2]
    offset = 3 + 1 + (da_digits + 1) // 2
    pid_at = offset
    vp_len = {0: 0, 1: 7, 2: 1, 3: 7}[vpf]
    ud_at = pid_at + 2 + vp_len
    if ud_at >= len(tpdu):
        raise PduError("SMS-SUBMIT truncated before TP-UDL")
    return tpdu[pid_at], tpdu[pid_at + 1], bool(first & 0x40), tpdu[ud_at:]


def deliver_from_submit(
    submit_tpdu: bytes,
    sender: str,
    scts: datetime,
    *,
    smsc: str | None,
    status_report_indication: bool = False,
) -> tuple[str, int]:
    """(hex PDU with SMSC prefix, TPDU length) of the SMS-DELIVER carrying this submit's data."""
    pid, dcs, udhi, user_data = submit_user_data(submit_tpdu)
    first = 0x04  # SMS-DELIVER, TP-MMS set: no more messages waiting
    if udhi:
        first |= 0x40
    if status_report_indication:
        first |= 0x20
    tpdu = (
        bytes((first,))
        + encode_address(parse_address(sender))
        + bytes((pid, dcs))
        + encode_timestamp(scts)
        + user_data
    )
    return (encode_smsc(smsc) + tpdu).hex().upper(), len(tpdu)

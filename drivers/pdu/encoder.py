"""Encoders: SMS-SUBMIT for the modem, SMS-DELIVER and SMS-STATUS-REPORT for the simulator.

Output is the hex a modem takes or prints: the SMSC prefix (`00` = the modem's default SMSC)
followed by the TPDU. `tpdu_length` is what `AT+CMGS=` wants: the TPDU alone, SMSC excluded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from .address import encode_address, encode_smsc, parse_address
from .dcs import build_dcs
from .errors import EncodeArgumentError
from .model import EncodedPdu, Encoding
from .segment import cut_body, encode_body
from .timefields import encode_timestamp, relative_tp_vp
from .udh import build_udh, concat_element, concat_header_length
from .userdata import encode_user_data


def _user_data_fields(
    text: str,
    encoding: Encoding | None,
    concat_ref: int,
    concat_ref_bits: Literal[8, 16],
) -> tuple[Encoding, list[tuple[bool, bytes]]]:
    """(encoding, [(has UDH, TP-UDL + TP-UD) per part])."""
    if concat_ref_bits not in (8, 16):
        raise EncodeArgumentError("concatenation references are 8 or 16 bits")
    chosen, body = encode_body(text, encoding)
    chunks = cut_body(chosen, body, concat_header_length(concat_ref_bits))
    total = len(chunks)
    if total == 1:
        return chosen, [(False, encode_user_data(chosen, body, b""))]
    concat_element(concat_ref, total, 1, concat_ref_bits)  # validates the reference
    fields: list[tuple[bool, bytes]] = []
    for seq, chunk in enumerate(chunks, start=1):
        header = build_udh((concat_element(concat_ref, total, seq, concat_ref_bits),))
        fields.append((True, encode_user_data(chosen, chunk, header)))
    return chosen, fields


def encode_submit(
    to: str,
    text: str,
    *,
    reference: int = 0,
    concat_ref: int | None = None,
    concat_ref_bits: Literal[8, 16] = 8,
    request_status_report: bool = False,
    validity_minutes: int | None = None,
    smsc: str | None = None,
    encoding: Encoding | None = None,
    message_class: int | None = None,
) -> list[EncodedPdu]:
    """One SMS-SUBMIT per part, in order. TP-MR is `reference` in every part; the modem may
    replace it and reports the one it used in `+CMGS: <mr>`."""
    if not 0 <= reference <= 0xFF:
        raise EncodeArgumentError(f"TP-MR {reference} is not 0-255")
    destination = encode_address(parse_address(to))
    smsc_octets = encode_smsc(smsc)
    chosen, fields = _user_data_fields(
        text,
        encoding,
        reference & 0xFF if concat_ref is None else concat_ref,
        concat_ref_bits,
    )
    dcs = build_dcs(chosen, message_class)
    first = 0x01 | (0x20 if request_status_report else 0)
    validity = b""
    if validity_minutes is not None:
        first |= 0x10
        validity = bytes((relative_tp_vp(validity_minutes),))
    total = len(fields)
    out: list[EncodedPdu] = []
    for seq, (has_udh, user_data) in enumerate(fields, start=1):
        tpdu = (
            bytes((first | (0x40 if has_udh else 0), reference))
            + destination
            + bytes((0, dcs))
            + validity
            + user_data
        )
        out.append(EncodedPdu((smsc_octets + tpdu).hex().upper(), len(tpdu), seq, total))
    return out


def encode_deliver(
    sender: str,
    text: str,
    *,
    timestamp: datetime,
    smsc: str | None = None,
    encoding: Encoding | None = None,
    concat_ref: int = 0,
    concat_ref_bits: Literal[8, 16] = 8,
    message_class: int | None = None,
    status_report_indication: bool = False,
) -> list[str]:
    """SMS-DELIVER parts as a modem would print them (`+CMT`, `+CMGR`), SMSC prefix included.

    TP-MMS says "more messages" on every part but the last, as an SMSC delivering a long
    message back to back does.
    """
    originator = encode_address(parse_address(sender))
    smsc_octets = encode_smsc(smsc)
    chosen, fields = _user_data_fields(text, encoding, concat_ref, concat_ref_bits)
    dcs = build_dcs(chosen, message_class)
    scts = encode_timestamp(timestamp)
    base = 0x00 | (0x20 if status_report_indication else 0)
    total = len(fields)
    out: list[str] = []
    for seq, (has_udh, user_data) in enumerate(fields, start=1):
        first = base | (0x40 if has_udh else 0) | (0x04 if seq == total else 0)
        tpdu = bytes((first,)) + originator + bytes((0, dcs)) + scts + user_data
        out.append((smsc_octets + tpdu).hex().upper())
    return out


def encode_status_report(
    *,
    message_reference: int,
    recipient: str,
    scts: datetime,
    discharge_time: datetime,
    status: int,
    smsc: str | None = None,
) -> str:
    """SMS-STATUS-REPORT as a modem prints it after `+CDS:` (SMSC prefix included)."""
    if not 0 <= message_reference <= 0xFF:
        raise EncodeArgumentError(f"TP-MR {message_reference} is not 0-255")
    if not 0 <= status <= 0xFF:
        raise EncodeArgumentError(f"TP-ST {status} is not 0-255")
    tpdu = (
        bytes((0x06, message_reference))
        + encode_address(parse_address(recipient))
        + encode_timestamp(scts)
        + encode_timestamp(discharge_time)
        + bytes((status,))
    )
    return (encode_smsc(smsc) + tpdu).hex().upper()

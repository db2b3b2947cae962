"""The JSON shape of a decoded PDU, shared by `smsgw pdu decode`, tests and the HTTP API.

Field names follow the CLI contract of issue 2; addresses carry `+` only for the international
type of number, timestamps are ISO 8601 in the PDU's own offset, 8-bit text is hex.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .model import Address, Deliver, Pdu, StatusReport, Submit, UserData, Validity


def _address(prefix: str, address: Address) -> dict[str, Any]:
    return {prefix: address.number, f"{prefix}_type_of_address": f"{address.toa:02X}"}


def _time(moment: datetime) -> str:
    return moment.isoformat()


def _validity(validity: Validity | None) -> dict[str, Any] | None:
    if validity is None:
        return None
    if validity.format == "relative":
        return {"format": "relative", "tp_vp": validity.tp_vp, "minutes": validity.minutes}
    if validity.format == "absolute" and validity.timestamp is not None:
        return {"format": "absolute", "timestamp": _time(validity.timestamp)}
    return {"format": validity.format, "raw_hex": validity.raw.hex().upper()}


def user_data_dict(user_data: UserData) -> dict[str, Any]:
    concat = user_data.concat
    ports = user_data.ports
    udh = user_data.udh
    out: dict[str, Any] = {
        "dcs": user_data.dcs,
        "encoding": str(user_data.encoding),
        "message_class": user_data.message_class,
        "udh_hex": udh.raw.hex().upper() if udh else None,
        "concat": (
            {
                "ref": concat.ref,
                "total": concat.total,
                "seq": concat.seq,
                "ref_bits": concat.ref_bits,
            }
            if concat
            else None
        ),
        "ports": {"dest": ports.dest, "src": ports.src, "bits": ports.bits} if ports else None,
        "text": user_data.text,
        "udl": user_data.udl,
    }
    if user_data.text is None:
        if user_data.encoding == "8bit":
            out["text"] = user_data.payload.hex().upper()
        else:
            out["text_utf16be_hex"] = user_data.payload.hex().upper()
    if udh:
        out["udh"] = [{"iei": ie.iei, "data": ie.data.hex().upper()} for ie in udh.elements]
    return out


def to_json_dict(pdu: Pdu) -> dict[str, Any]:
    """A decoded PDU as plain JSON-ready data (the CLI prints exactly this)."""
    out: dict[str, Any] = {"kind": str(pdu.kind), "smsc": pdu.smsc.number if pdu.smsc else None}
    if isinstance(pdu, Deliver):
        out.update(_address("sender", pdu.sender))
        out["timestamp"] = _time(pdu.timestamp)
        out["pid"] = pdu.pid
        out["more_messages_to_send"] = pdu.more_messages_to_send
        out["status_report_indication"] = pdu.status_report_indication
        out["reply_path"] = pdu.reply_path
        out.update(user_data_dict(pdu.user_data))
        out["trailing_octets"] = len(pdu.trailing)
    elif isinstance(pdu, Submit):
        out["message_reference"] = pdu.message_reference
        out.update(_address("destination", pdu.destination))
        out["request_status_report"] = pdu.request_status_report
        out["reject_duplicates"] = pdu.reject_duplicates
        out["reply_path"] = pdu.reply_path
        out["validity"] = _validity(pdu.validity)
        out["pid"] = pdu.pid
        out.update(user_data_dict(pdu.user_data))
        out["trailing_octets"] = len(pdu.trailing)
    elif isinstance(pdu, StatusReport):
        out["message_reference"] = pdu.message_reference
        out.update(_address("recipient", pdu.recipient))
        out["scts"] = _time(pdu.scts)
        out["discharge_time"] = _time(pdu.discharge_time)
        out["status"] = pdu.status
        out["more_messages_to_send"] = pdu.more_messages_to_send
        out["status_report_qualifier"] = "command" if pdu.status_report_qualifier else "submit"
        out["pid"] = pdu.pid
        if pdu.user_data is not None:
            out.update(user_data_dict(pdu.user_data))
    return out

"""SMS PDU codec (3GPP TS 23.040 / 23.038 / 27.005): what the modem sends and what it prints.

Pure functions over frozen data: no I/O, no state. `decode_pdu` is total (a message or a
`PduError`); the encoders produce exactly the hex `AT+CMGS` takes.
"""

from __future__ import annotations

from .address import parse_address
from .dcs import build_dcs, describe_dcs
from .decoder import decode_deliver, decode_pdu, decode_status_report, decode_submit
from .encoder import encode_deliver, encode_status_report, encode_submit
from .errors import (
    BadAddressError,
    BadHexError,
    BadTimestampError,
    EncodeArgumentError,
    HeaderOverrunError,
    LengthBeyondDataError,
    OddUcs2LengthError,
    PduError,
    PduTooLongError,
    Reason,
    ReservedMessageTypeError,
    TruncatedError,
    UnexpectedKindError,
    UnsupportedError,
)
from .jsonview import to_json_dict
from .model import (
    Address,
    Concat,
    DataCoding,
    Deliver,
    EncodedPdu,
    Encoding,
    InformationElement,
    Pdu,
    PduKind,
    Ports,
    SegmentCount,
    StatusReport,
    Submit,
    UserData,
    UserDataHeader,
    Validity,
)
from .segment import count_text, split_text

__all__ = [
    "Address",
    "BadAddressError",
    "BadHexError",
    "BadTimestampError",
    "Concat",
    "DataCoding",
    "Deliver",
    "EncodeArgumentError",
    "EncodedPdu",
    "Encoding",
    "HeaderOverrunError",
    "InformationElement",
    "LengthBeyondDataError",
    "OddUcs2LengthError",
    "Pdu",
    "PduError",
    "PduKind",
    "PduTooLongError",
    "Ports",
    "Reason",
    "ReservedMessageTypeError",
    "SegmentCount",
    "StatusReport",
    "Submit",
    "TruncatedError",
    "UnexpectedKindError",
    "UnsupportedError",
    "UserData",
    "UserDataHeader",
    "Validity",
    "build_dcs",
    "count_text",
    "decode_deliver",
    "decode_pdu",
    "decode_status_report",
    "decode_submit",
    "describe_dcs",
    "encode_deliver",
    "encode_status_report",
    "encode_submit",
    "parse_address",
    "split_text",
    "to_json_dict",
]

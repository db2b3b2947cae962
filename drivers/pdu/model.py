"""Typed results of the PDU codec, shaped like TS 23.040 so each field is traceable to the spec.

Everything here is plain frozen data: the simulator, the driver and the gateway all pass these
objects around, and none of them should need to know how a field was packed on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal


class Encoding(StrEnum):
    """Alphabet of the user data (TS 23.038), as the rest of the system names it."""

    GSM7 = "gsm7"
    EIGHT_BIT = "8bit"
    UCS2 = "ucs2"


class PduKind(StrEnum):
    DELIVER = "deliver"
    SUBMIT = "submit"
    STATUS_REPORT = "status-report"


@dataclass(frozen=True, slots=True)
class Address:
    """A TP address: `number` carries `+` only for the international type of number.

    For an alphanumeric address (TON 5) `number` is the decoded text.
    """

    number: str
    toa: int

    @property
    def type_of_number(self) -> int:
        return (self.toa >> 4) & 0x07

    @property
    def is_alphanumeric(self) -> bool:
        return self.type_of_number == 5


@dataclass(frozen=True, slots=True)
class InformationElement:
    """One UDH information element, kept raw so unknown ones survive a round trip."""

    iei: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Concat:
    ref: int
    total: int
    seq: int
    ref_bits: Literal[8, 16]


@dataclass(frozen=True, slots=True)
class Ports:
    dest: int
    src: int
    bits: Literal[8, 16]


@dataclass(frozen=True, slots=True)
class UserDataHeader:
    elements: tuple[InformationElement, ...]
    raw: bytes  # including the UDHL octet, exactly as received

    @property
    def concat(self) -> Concat | None:
        for ie in self.elements:
            if ie.iei == 0x00 and len(ie.data) == 3:
                return Concat(ie.data[0], ie.data[1], ie.data[2], 8)
            if ie.iei == 0x08 and len(ie.data) == 4:
                return Concat((ie.data[0] << 8) | ie.data[1], ie.data[2], ie.data[3], 16)
        return None

    @property
    def single_shift(self) -> int | None:
        """National language of the single shift table (IEI 0x24), if any."""
        for ie in self.elements:
            if ie.iei == 0x24 and len(ie.data) == 1:
                return ie.data[0]
        return None

    @property
    def locking_shift(self) -> int | None:
        """National language of the locking shift table (IEI 0x25), if any."""
        for ie in self.elements:
            if ie.iei == 0x25 and len(ie.data) == 1:
                return ie.data[0]
        return None

    @property
    def ports(self) -> Ports | None:
        for ie in self.elements:
            if ie.iei == 0x04 and len(ie.data) == 2:
                return Ports(ie.data[0], ie.data[1], 8)
            if ie.iei == 0x05 and len(ie.data) == 4:
                return Ports((ie.data[0] << 8) | ie.data[1], (ie.data[2] << 8) | ie.data[3], 16)
        return None


@dataclass(frozen=True, slots=True)
class Validity:
    """TP-VP. Relative form carries `tp_vp` and `minutes`; absolute form carries `timestamp`."""

    format: Literal["relative", "absolute", "enhanced"]
    tp_vp: int | None = None
    minutes: int | None = None
    timestamp: datetime | None = None
    raw: bytes = b""


@dataclass(frozen=True, slots=True)
class DataCoding:
    """What a TP-DCS octet means (TS 23.038 section 4); `drivers.pdu.dcs.describe_dcs` builds it.

    `waiting_*` are set for the message-waiting groups 0xC0-0xEF: `waiting_kind` is 0 voicemail,
    1 fax, 2 e-mail, 3 other; `waiting_store` is False for the "discard message" group.
    """

    dcs: int
    encoding: Encoding
    message_class: int | None = None
    compressed: bool = False
    auto_delete: bool = False
    waiting_active: bool | None = None
    waiting_kind: int | None = None
    waiting_store: bool | None = None


@dataclass(frozen=True, slots=True)
class UserData:
    """Decoded TP-UD. `text` is None for 8-bit data and for undecodable UCS-2 (lone surrogate)."""

    dcs: int
    encoding: Encoding
    message_class: int | None
    udl: int
    udh: UserDataHeader | None
    text: str | None
    payload: bytes  # the user data after the header (septets unpacked for GSM-7 are not here)

    @property
    def concat(self) -> Concat | None:
        return self.udh.concat if self.udh else None

    @property
    def coding(self) -> DataCoding:
        from .dcs import describe_dcs

        return describe_dcs(self.dcs)

    @property
    def ports(self) -> Ports | None:
        return self.udh.ports if self.udh else None


@dataclass(frozen=True, slots=True)
class Deliver:
    """SMS-DELIVER: a mobile-terminated message as a modem stores or routes it."""

    smsc: Address | None
    sender: Address
    timestamp: datetime
    pid: int
    user_data: UserData
    more_messages_to_send: bool = False
    reply_path: bool = False
    status_report_indication: bool = False
    trailing: bytes = b""  # octets after the user data (some modems pad stored records)
    kind: Literal[PduKind.DELIVER] = field(default=PduKind.DELIVER, init=False)


@dataclass(frozen=True, slots=True)
class Submit:
    """SMS-SUBMIT: what we hand the modem after `AT+CMGS`."""

    smsc: Address | None
    message_reference: int
    destination: Address
    pid: int
    user_data: UserData
    validity: Validity | None = None
    request_status_report: bool = False
    reject_duplicates: bool = False
    reply_path: bool = False
    trailing: bytes = b""  # octets after the user data (some modems pad stored records)
    kind: Literal[PduKind.SUBMIT] = field(default=PduKind.SUBMIT, init=False)


@dataclass(frozen=True, slots=True)
class StatusReport:
    """SMS-STATUS-REPORT: the network's word on a submitted part, keyed by TP-MR."""

    smsc: Address | None
    message_reference: int
    recipient: Address
    scts: datetime
    discharge_time: datetime
    status: int
    more_messages_to_send: bool = False
    status_report_qualifier: bool = False
    pid: int | None = None
    user_data: UserData | None = None
    kind: Literal[PduKind.STATUS_REPORT] = field(default=PduKind.STATUS_REPORT, init=False)

    @property
    def completed(self) -> bool:
        return self.status <= 0x1F

    @property
    def delivered(self) -> bool:
        return self.status == 0x00

    @property
    def temporary(self) -> bool:
        """The SC is still trying (0x20-0x3F); the message is not final yet."""
        return 0x20 <= self.status <= 0x3F

    @property
    def permanent_failure(self) -> bool:
        return self.status >= 0x40


Pdu = Deliver | Submit | StatusReport


@dataclass(frozen=True, slots=True)
class EncodedPdu:
    """One part ready for the modem: `hex` is exactly what follows `AT+CMGS=<tpdu_length>`."""

    hex: str
    tpdu_length: int
    seq: int
    total: int


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """Encoding and cost of a text: `units` are septets (GSM-7) or UTF-16 code units (UCS-2)."""

    encoding: Encoding
    segments: int
    units: int
    per_segment: int

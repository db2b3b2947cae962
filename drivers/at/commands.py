"""Every AT command the driver sends, declared as data: line format, the `+XXX:` lines it answers
with, which deadline applies, and a typed parser.

Parsers are tolerant of everything around the lines they want (a vendor line, a missing prefix)
and strict about the lines themselves: a value they cannot read raises `ProtocolError` rather
than becoming a wrong number. Dialects extend or replace entries (bellows' pattern: each version
extends the previous command table).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from drivers.at.channel import AtResponse
from drivers.at.fields import is_hex, payload, split_fields, split_raw, to_int
from drivers.at.urc import sim_state_from_cpin
from drivers.errors import InvalidRequest, ProtocolError
from drivers.events import SimState
from drivers.models import SmsStorage, StoredMessage

R = TypeVar("R")


class Deadline(StrEnum):
    """Which `ModemConfig` deadline a command gets."""

    QUERY = "command_timeout"
    LIST = "list_timeout"
    USSD = "ussd_timeout"
    RESET = "reset_timeout"
    PROBE = "probe_timeout"


_SAFE_ARG = re.compile(r"^[A-Za-z0-9*#+.,_-]*$")


@dataclass(frozen=True, slots=True)
class Command(Generic[R]):
    """`template` is formatted with `render(*args)`; arguments are ints or tokens from a small
    safe alphabet, so no user text, CR, Ctrl-Z or quote can ever reach the AT line."""

    template: str
    parse: Callable[[AtResponse], R]
    prefixes: frozenset[str] | None = frozenset()
    deadline: Deadline = Deadline.QUERY

    def render(self, *args: int | str) -> str:
        for arg in args:
            if isinstance(arg, bool) or not isinstance(arg, int | str):
                raise InvalidRequest(f"bad AT argument type {type(arg).__name__}")
            if isinstance(arg, str) and not _SAFE_ARG.match(arg):
                raise InvalidRequest("AT argument outside the safe alphabet")
        return self.template.format(*args)


def cmd(
    template: str,
    parse: Callable[[AtResponse], R],
    *prefixes: str,
    deadline: Deadline = Deadline.QUERY,
) -> Command[R]:
    return Command(template, parse, frozenset(prefixes), deadline)


# --- parsers -----------------------------------------------------------------------------------


def no_result(response: AtResponse) -> None:
    return None


def _lines_with(response: AtResponse, prefix: str) -> list[str]:
    return [line for line in response.lines if line.startswith(prefix)]


def _first_payload(response: AtResponse, prefix: str) -> str | None:
    lines = _lines_with(response, prefix)
    return payload(lines[0]) if lines else None


def info_lines(response: AtResponse) -> tuple[str, ...]:
    return response.lines


def text_info(response: AtResponse) -> str:
    """`AT+CGMI` and friends: bare text, sometimes prefixed (`+CGMI: `, `Manufacturer: `)."""
    for line in response.lines:
        value = line
        if value.startswith(("+", "^")) and ":" in value:
            value = payload(value)
        elif ":" in value and value.split(":", 1)[0].strip().lower() in _LABELS:
            value = value.split(":", 1)[1]
        value = value.strip().strip('"')
        if value:
            return value
    return ""


_LABELS = frozenset({"manufacturer", "model", "revision", "imei", "firmware"})
_IMEI = re.compile(r"(?<!\d)(\d{14,17})(?!\d)")
_IMSI = re.compile(r"(?<!\d)(\d{6,15})(?!\d)")
_ICCID = re.compile(r"(?<![0-9A-Fa-f])([0-9Ff]{18,22})(?![0-9A-Fa-f])")


def imei(response: AtResponse) -> str:
    for line in response.lines:
        match = _IMEI.search(line)
        if match:
            return match.group(1)
    raise ProtocolError("no IMEI in the answer to AT+CGSN")


def imsi(response: AtResponse) -> str | None:
    for line in response.lines:
        match = _IMSI.search(line)
        if match:
            return match.group(1)
    return None


def iccid(response: AtResponse) -> str | None:
    for line in response.lines:
        match = _ICCID.search(line.replace('"', ""))
        if match:
            value = match.group(1).upper()
            if value.startswith("98"):  # nibble-swapped as stored on the SIM (EF_ICCID)
                value = "".join(value[i + 1 : i + 2] + value[i] for i in range(0, len(value), 2))
            return value.rstrip("F")
    return None


def msisdn(response: AtResponse) -> str | None:
    """`+CNUM: "<alpha>","<number>",<type>`: many SIMs carry no number (empty answer)."""
    for line in _lines_with(response, "+CNUM:"):
        fields = split_fields(payload(line))
        if len(fields) >= 2 and fields[1].strip():
            number = fields[1].strip()
            toa = to_int(fields[2]) if len(fields) > 2 else None
            if toa == 145 and not number.startswith("+"):
                number = "+" + number
            return number
    return None


def sim_state(response: AtResponse) -> SimState:
    value = _first_payload(response, "+CPIN:")
    if value is None:
        raise ProtocolError("no +CPIN line")
    return sim_state_from_cpin(value)


def registration(response: AtResponse) -> int | None:
    """`+CREG: <n>,<stat>[,...]` (solicited form); tolerates firmwares that omit `<n>`."""
    for prefix in ("+CREG:", "+CGREG:", "+CEREG:", "+C5GREG:"):
        value = _first_payload(response, prefix)
        if value is None:
            continue
        fields = split_raw(value)
        if len(fields) >= 2 and fields[1].strip().isdigit():
            return to_int(fields[1])
        if fields:
            return to_int(fields[0])
    return None


@dataclass(frozen=True, slots=True)
class Operator:
    mode: int | None
    format: int | None
    name: str | None
    act: int | None


def operator(response: AtResponse) -> Operator:
    value = _first_payload(response, "+COPS:")
    if value is None:
        raise ProtocolError("no +COPS line")
    fields = split_fields(value)
    return Operator(
        to_int(fields[0]) if fields else None,
        to_int(fields[1]) if len(fields) > 1 else None,
        fields[2] if len(fields) > 2 and fields[2] else None,
        to_int(fields[3]) if len(fields) > 3 else None,
    )


def csq(response: AtResponse) -> tuple[int, int]:
    value = _first_payload(response, "+CSQ:")
    fields = split_fields(value) if value else []
    rssi = to_int(fields[0]) if len(fields) >= 2 else None
    ber = to_int(fields[1]) if len(fields) >= 2 else None
    if rssi is None or ber is None:
        raise ProtocolError("unreadable +CSQ")
    return rssi, ber


def rssi_to_dbm(rssi: int) -> int | None:
    """TS 27.007 +CSQ: 0 -> -113 dBm ... 31 -> -51 dBm, 99 unknown."""
    if 0 <= rssi <= 31:
        return -113 + 2 * rssi
    return None


def cesq_rsrp_dbm(response: AtResponse) -> int | None:
    """`+CESQ: <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp>`: LTE RSRP = -141 + n dBm (255 unknown)."""
    value = _first_payload(response, "+CESQ:")
    fields = split_fields(value) if value else []
    if len(fields) < 6:
        return None
    rsrp = to_int(fields[5])
    if rsrp is not None and 0 <= rsrp <= 97:
        return -141 + rsrp
    rxlev = to_int(fields[0])
    if rxlev is not None and 0 <= rxlev <= 63:
        return -111 + rxlev
    return None


def storage_query(response: AtResponse) -> SmsStorage:
    """`+CPMS: "SM",3,30,"SM",3,30,...` (answer to `AT+CPMS?`): the read memory comes first."""
    value = _first_payload(response, "+CPMS:")
    fields = split_fields(value) if value else []
    used = to_int(fields[1]) if len(fields) >= 3 else None
    total = to_int(fields[2]) if len(fields) >= 3 else None
    if used is None or total is None:
        raise ProtocolError("unreadable +CPMS")
    return SmsStorage(fields[0], used, total)


def storage_set(response: AtResponse) -> tuple[int, int] | None:
    """`+CPMS: <used1>,<total1>,...` (answer to `AT+CPMS=...`)."""
    value = _first_payload(response, "+CPMS:")
    fields = split_fields(value) if value else []
    if len(fields) >= 2:
        used, total = to_int(fields[0]), to_int(fields[1])
        if used is not None and total is not None:
            return used, total
    return None


def csms_service(response: AtResponse) -> int | None:
    """`+CSMS: <service>,<mt>,<mo>,<bm>`: service 1 means +CMT/+CDS must be acked (+CNMA)."""
    value = _first_payload(response, "+CSMS:")
    fields = split_fields(value) if value else []
    return to_int(fields[0]) if fields else None


def message_reference(response: AtResponse) -> int | None:
    """`+CMGS: <mr>`; None when the modem said OK without it (some Cinterion modes)."""
    value = _first_payload(response, "+CMGS:")
    if value is None:
        return None
    fields = split_fields(value)
    mr = to_int(fields[0]) if fields else None
    if mr is None or not 0 <= mr <= 255:
        raise ProtocolError("unreadable +CMGS message reference")
    return mr


def _stored(response: AtResponse, prefix: str, storage: str) -> list[StoredMessage]:
    """Pair each `+CMGL: <index>,<stat>,,<len>` (or `+CMGR: <stat>,,<len>`) with its PDU line."""
    result: list[StoredMessage] = []
    header: list[str] | None = None
    for line in response.lines:
        if line.startswith(prefix):
            header = split_fields(payload(line))
            continue
        if header is None or not is_hex(line):
            continue
        if prefix == "+CMGL:":
            index, stat = to_int(header[0]), to_int(header[1]) if len(header) > 1 else None
        else:
            index, stat = -1, to_int(header[0])
        if index is not None and stat is not None:
            result.append(StoredMessage(index, storage, stat, line.upper()))
        header = None
    return result


def message_list(storage: str) -> Callable[[AtResponse], list[StoredMessage]]:
    def parse(response: AtResponse) -> list[StoredMessage]:
        return _stored(response, "+CMGL:", storage)

    return parse


def message_read(response: AtResponse) -> StoredMessage | None:
    found = _stored(response, "+CMGR:", "")
    return found[0] if found else None


# --- the standard table (TS 27.005 / 27.007) -----------------------------------------------------

AT = cmd("AT", no_result, deadline=Deadline.PROBE)
ECHO_OFF = cmd("ATE0", no_result)
ERRORS_NUMERIC = cmd("AT+CMEE=1", no_result)
ATI = Command("ATI", info_lines, None)
MANUFACTURER = cmd("AT+CGMI", text_info, "+CGMI:")
MODEL = cmd("AT+CGMM", text_info, "+CGMM:")
REVISION = cmd("AT+CGMR", text_info, "+CGMR:")
IMEI = cmd("AT+CGSN", imei, "+CGSN:")
IMSI = cmd("AT+CIMI", imsi, "+CIMI:")
ICCID = cmd("AT+CCID", iccid, "+CCID:", "+ICCID:")
ICCID_SIMCOM_LTE = cmd("AT+CICCID", iccid, "+ICCID:")
ICCID_QUECTEL = cmd("AT+QCCID", iccid, "+QCCID:")
ICCID_HUAWEI = cmd("AT^ICCID?", iccid, "^ICCID:")
ICCID_SIERRA = Command("AT!ICCID?", iccid, None)
OWN_NUMBER = cmd("AT+CNUM", msisdn, "+CNUM:")
SIM_STATE = cmd("AT+CPIN?", sim_state, "+CPIN:")
CHARSET_IRA = cmd('AT+CSCS="IRA"', no_result)
PDU_MODE = cmd("AT+CMGF=0", no_result)
SMS_SERVICE = cmd("AT+CSMS?", csms_service, "+CSMS:")
SET_STORAGE = cmd('AT+CPMS="{0}","{0}","{0}"', storage_set, "+CPMS:")
SET_READ_STORAGE = cmd('AT+CPMS="{0}"', storage_set, "+CPMS:")
STORAGE = cmd("AT+CPMS?", storage_query, "+CPMS:")
NEW_MESSAGE_INDICATIONS = cmd("AT+CNMI={0}", no_result)
REGISTRATION_URCS = cmd("AT+CREG=1", no_result)
EPS_REGISTRATION_URCS = cmd("AT+CEREG=1", no_result)
REGISTRATION = cmd("AT+CREG?", registration, "+CREG:")
GPRS_REGISTRATION = cmd("AT+CGREG?", registration, "+CGREG:")
EPS_REGISTRATION = cmd("AT+CEREG?", registration, "+CEREG:")
OPERATOR_FORMAT = cmd("AT+COPS=3,{0}", no_result)
OPERATOR = cmd("AT+COPS?", operator, "+COPS:")
SIGNAL = cmd("AT+CSQ", csq, "+CSQ:")
EXTENDED_SIGNAL = cmd("AT+CESQ", cesq_rsrp_dbm, "+CESQ:")
MORE_MESSAGES = cmd("AT+CMMS={0}", no_result)
LIST_MESSAGES = "AT+CMGL=4"  # parser depends on the storage: see message_list()
READ_MESSAGE = cmd("AT+CMGR={0}", message_read, "+CMGR:")
DELETE_MESSAGE = cmd("AT+CMGD={0}", no_result)
ACK_MESSAGE = cmd("AT+CNMA", no_result)
USSD_ENABLE = cmd("AT+CUSD=1", no_result)
USSD_REQUEST = cmd('AT+CUSD=1,"{0}",{1}', no_result, deadline=Deadline.USSD)
USSD_CANCEL = cmd("AT+CUSD=2", no_result)
RESET = cmd("AT+CFUN=1,1", no_result, "+CFUN:", deadline=Deadline.RESET)
SUBMIT = "AT+CMGS={0}"

__all__ = [
    "AT",
    "ATI",
    "Command",
    "Deadline",
    "Operator",
    "cmd",
    "rssi_to_dbm",
]

"""TS 27.005 SMS commands in PDU and text mode, and the indications they pair with."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from drivers.pdu import (
    Deliver,
    PduError,
    StatusReport,
    Submit,
    count_text,
    decode_pdu,
    encode_deliver,
    encode_submit,
)
from drivers.pdu.model import Encoding
from sim.atline import AtCommand, Form
from sim.errors import (
    CMS_BAD_PDU,
    CMS_BAD_TEXT,
    CMS_INVALID_INDEX,
    CMS_MEMORY_FULL,
    CMS_NO_CNMA_EXPECTED,
    CMS_NOT_ALLOWED,
    CMS_NOT_SUPPORTED,
    CMS_SIM_BUSY,
    CMS_SIM_NOT_INSERTED,
    CMS_SIM_PIN,
    CMS_SIM_PUK,
    AtError,
)
from sim.network import OutboundPart, tpdu_length_of
from sim.storage import MessageStore, Stat, StoredMessage
from sim.textmode import encode_te_text

if TYPE_CHECKING:
    from sim.modem import Handler, Prompt, Reply, SimModem

MAX_TPDU = 164


def require_sms(m: SimModem) -> None:
    """SMS commands need a SIM that is present, unlocked and done initialising."""
    if not m.sim_present:
        raise AtError.cms(CMS_SIM_NOT_INSERTED)
    if m.sim.puk_blocked:
        raise AtError.cms(CMS_SIM_PUK)
    if m.sim.locked:
        raise AtError.cms(CMS_SIM_PIN)
    if not m.sms_ready:
        raise AtError.cms(CMS_SIM_BUSY)


def _store(m: SimModem, which: int) -> MessageStore:
    return m.stores[m.settings.mems[which]]


def _text_mode(m: SimModem) -> bool:
    return m.settings.cmgf == 1


# ---- settings -------------------------------------------------------------------------------


def cmgf(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.READ:
        return [f"+CMGF: {m.settings.cmgf}"]
    if cmd.form is Form.TEST:
        return ["+CMGF: (0,1)"]
    if cmd.form is Form.SET:
        value = cmd.int_arg(0, 0)
        if value not in (0, 1):
            raise AtError.cms(CMS_NOT_SUPPORTED)
        m.settings.cmgf = value
    return []


def csca(m: SimModem, cmd: AtCommand) -> Reply:
    require_sms(m)
    if cmd.form is Form.READ:
        number = m.sim.smsc
        toa = 145 if number.startswith("+") else 129
        if m.settings.cscs == "UCS2":
            number = number.encode("utf-16-be").hex().upper()
        return [f'+CSCA: "{number}",{toa}']
    if cmd.form is Form.SET:
        number = cmd.arg(0)
        if m.settings.cscs == "UCS2" and number and all(c in "0123456789abcdefABCDEF"
                                                        for c in number) and len(number) % 4 == 0:
            number = bytes.fromhex(number).decode("utf-16-be")
        if not number or not number.lstrip("+").isdigit():
            raise AtError.cms(CMS_NOT_ALLOWED)
        m.sim.smsc = number
    return []


def csmp(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.READ:
        return ["+CSMP: " + ",".join(str(v) for v in m.settings.csmp)]
    if cmd.form is Form.TEST:
        return []
    if cmd.form is Form.SET:
        old = m.settings.csmp
        values = [cmd.int_arg(i, old[i]) for i in range(4)]
        if any(not 0 <= v <= 255 for v in values):
            raise AtError.cms(CMS_BAD_TEXT)
        m.settings.csmp = (values[0], values[1], values[2], values[3])
    return []


def csms(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.READ:
        return [f"+CSMS: {m.settings.csms},1,1,1"]
    if cmd.form is Form.TEST:
        return ["+CSMS: (0,1)"]
    if cmd.form is Form.SET:
        value = cmd.int_arg(0)
        if value not in (0, 1):
            raise AtError.cms(CMS_NOT_SUPPORTED)
        m.settings.csms = value
        return ["+CSMS: 1,1,1"]
    return []


def cpms(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        choices = m.dialect.cpms_choices
        return ["+CPMS: " + ",".join("(" + ",".join(f'"{c}"' for c in group) + ")"
                                     for group in choices)]
    require_sms(m)
    if cmd.form is Form.READ:
        parts = []
        for i in range(3):
            s = _store(m, i)
            parts.append(f'"{s.name}",{s.used},{s.capacity}')
        return ["+CPMS: " + ",".join(parts)]
    if cmd.form is Form.SET:
        wanted = [a.upper() for a in cmd.args]
        if not wanted or len(wanted) > 3:
            raise AtError.cms(CMS_NOT_ALLOWED)
        for i, name in enumerate(wanted):
            if name == "":
                continue
            if name not in m.dialect.cpms_choices[i]:
                raise AtError.cms(CMS_NOT_ALLOWED)
        for i, name in enumerate(wanted):
            if name:
                m.settings.mems[i] = name
        out = []
        for i in range(3):
            s = _store(m, i)
            out += [str(s.used), str(s.capacity)]
        return ["+CPMS: " + ",".join(out)]
    return []


def cnmi(m: SimModem, cmd: AtCommand) -> Reply:
    supported = m.dialect.cnmi_supported
    if cmd.form is Form.READ:
        return ["+CNMI: " + ",".join(str(v) for v in m.settings.cnmi)]
    if cmd.form is Form.TEST:
        return ["+CNMI: " + ",".join("(" + ",".join(str(v) for v in group) + ")"
                                     for group in supported)]
    if cmd.form is Form.SET:
        old = m.settings.cnmi
        values = [cmd.int_arg(i, old[i] if i else 0) for i in range(5)]
        for value, allowed in zip(values, supported, strict=True):
            if value not in allowed:
                raise AtError.cms(CMS_NOT_SUPPORTED)
        m.settings.cnmi = (values[0], values[1], values[2], values[3], values[4])
        if values[0] in (1, 2):
            m.flush_cnmi_buffer(discard=values[4] == 1)
    return []


def cmms(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.READ:
        return [f"+CMMS: {m.settings.cmms}"]
    if cmd.form is Form.TEST:
        return ["+CMMS: (0-2)"]
    value = cmd.int_arg(0, 0)
    if value not in (0, 1, 2):
        raise AtError.cms(CMS_NOT_SUPPORTED)
    m.settings.cmms = value
    return []


def csdh(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.READ:
        return [f"+CSDH: {m.settings.csdh}"]
    if cmd.form is Form.TEST:
        return ["+CSDH: (0,1)"]
    m.settings.csdh = cmd.int_arg(0, 0)
    return []


def cscb(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.READ:
        return ['+CSCB: 0,"",""']
    return []


# ---- sending --------------------------------------------------------------------------------


def cmgs(m: SimModem, cmd: AtCommand) -> Reply:
    from sim.modem import Prompt

    if cmd.form is Form.TEST:
        return []
    if cmd.form is not Form.SET:
        raise AtError.plain()
    require_sms(m)
    if _text_mode(m):
        destination = cmd.arg(0)
        if not destination:
            raise AtError.cms(CMS_BAD_TEXT)
        return Prompt("cmgs", destination=destination, toda=cmd.int_arg(1, 129))
    length = cmd.int_arg(0)
    if not 1 <= length <= MAX_TPDU:
        raise AtError.cms(CMS_BAD_PDU)
    return Prompt("cmgs", length=length)


def cmgw(m: SimModem, cmd: AtCommand) -> Reply:
    from sim.modem import Prompt

    if cmd.form is Form.TEST:
        return []
    require_sms(m)
    if _text_mode(m):
        stat = Stat.from_text(cmd.arg(2, "STO UNSENT")) or Stat.STO_UNSENT
        return Prompt("cmgw", destination=cmd.arg(0), toda=cmd.int_arg(1, 129), stat=stat)
    if cmd.form is not Form.SET:
        raise AtError.cms(CMS_BAD_PDU)
    length = cmd.int_arg(0)
    if not 1 <= length <= MAX_TPDU:
        raise AtError.cms(CMS_BAD_PDU)
    stat_value = cmd.int_arg(1, 2)
    if stat_value not in (0, 1, 2, 3):
        raise AtError.cms(CMS_BAD_PDU)
    return Prompt("cmgw", length=length, stat=Stat(stat_value))


def part_from_submit(pdu: Submit, tpdu: bytes | None) -> OutboundPart:
    ud = pdu.user_data
    return OutboundPart(
        destination=pdu.destination.number,
        text=ud.text if ud.text is not None else ud.payload.hex().upper(),
        encoding=ud.encoding,
        concat=ud.concat,
        request_status_report=pdu.request_status_report,
        submit_tpdu=tpdu,
        message_class=ud.message_class,
    )


def _text_part(m: SimModem, destination: str, text: str) -> OutboundPart:
    fo, _vp, _pid, dcs = m.settings.csmp
    encoding = Encoding.UCS2 if (dcs & 0x0C) == 0x08 else Encoding.GSM7
    count = count_text(text)
    if count.encoding is Encoding.UCS2:
        encoding = Encoding.UCS2
    if count.segments > 1:
        raise AtError.cms(CMS_BAD_TEXT)
    return OutboundPart(destination=destination, text=text, encoding=encoding, concat=None,
                        request_status_report=bool(fo & 0x20), submit_tpdu=None)


def finish_prompt(m: SimModem, prompt: Prompt, body: bytes) -> None:
    """Ctrl-Z after `> `: send (+CMGS) or store (+CMGW) what was typed."""
    if prompt.kind == "cmgs":
        if _text_mode(m):
            text = m.decode_text_body(body)
            m.send_part(_text_part(m, prompt.destination, text), "+CMGS")
            return
        submit, tpdu = m.decode_submit_body(prompt, body)
        m.send_part(part_from_submit(submit, tpdu), "+CMGS")
        return
    # +CMGW
    if _text_mode(m):
        text = m.decode_text_body(body)
        try:
            encoded = encode_submit(prompt.destination or "0", text)[0]
        except (PduError, ValueError):
            raise AtError.cms(CMS_BAD_TEXT) from None
        pdu_hex, length = encoded.hex, encoded.tpdu_length
    else:
        pdu_hex = body.decode("latin-1").replace("\r", "").replace("\n", "").strip().upper()
        try:
            raw = bytes.fromhex(pdu_hex)
            decode_pdu(pdu_hex, has_smsc=True)
        except (ValueError, PduError):
            raise AtError.cms(CMS_BAD_PDU) from None
        if len(raw) - 1 - raw[0] != prompt.length:
            raise AtError.cms(CMS_BAD_PDU)
        length = prompt.length
    index = _store(m, 1).add(StoredMessage(prompt.stat, pdu_hex, length))
    if index is None:
        raise AtError.cms(CMS_MEMORY_FULL)
    m.respond([f"+CMGW: {index}"], None)


def cmss(m: SimModem, cmd: AtCommand) -> Reply:
    from sim.modem import DEFERRED

    if cmd.form is Form.TEST:
        return []
    require_sms(m)
    index = cmd.int_arg(0)
    store = _store(m, 1)
    if not store.valid_index(index):
        raise AtError.cms(CMS_INVALID_INDEX)
    stored = store.get(index)
    if stored is None:
        raise AtError.cms(CMS_INVALID_INDEX)
    try:
        pdu = decode_pdu(stored.pdu, has_smsc=True)
    except PduError:
        raise AtError.cms(CMS_BAD_PDU) from None
    if not isinstance(pdu, Submit):
        raise AtError.cms(CMS_NOT_ALLOWED)
    raw = bytes.fromhex(stored.pdu)
    tpdu = raw[1 + raw[0] :]
    part = part_from_submit(pdu, tpdu)
    if cmd.arg(1):
        part = OutboundPart(cmd.arg(1), part.text, part.encoding, part.concat,
                            part.request_status_report, tpdu, part.message_class)
    stored.stat = Stat.STO_SENT
    m.send_part(part, "+CMSS")
    return DEFERRED


# ---- reading --------------------------------------------------------------------------------


def _scts_text(moment: datetime) -> str:
    offset = moment.utcoffset()
    quarters = int(offset.total_seconds() // 900) if offset is not None else 0
    return f"{moment:%y/%m/%d,%H:%M:%S}{quarters:+03d}"


def _text_header(m: SimModem, stat: Stat, pdu_hex: str, index: int | None) -> list[str]:
    """Text-mode +CMGR/+CMGL lines for one stored message (header line, then the text)."""
    lead = f"+CMGL: {index}," if index is not None else "+CMGR: "
    try:
        pdu = decode_pdu(pdu_hex, has_smsc=True)
    except PduError:
        return [f'{lead}"{stat.text}",,', ""]
    cscs = m.settings.cscs
    if isinstance(pdu, StatusReport):
        ra = pdu.recipient.number
        return [f'{lead}"{stat.text}",6,{pdu.message_reference},"{ra}",{pdu.recipient.toa},'
                f'"{_scts_text(pdu.scts)}","{_scts_text(pdu.discharge_time)}",{pdu.status}']
    ud = pdu.user_data
    text = ud.text if ud.text is not None else ud.payload.hex().upper()
    if isinstance(pdu, Deliver):
        head = f'{lead}"{stat.text}","{encode_te_text(pdu.sender.number, cscs)}",,' \
               f'"{_scts_text(pdu.timestamp)}"'
        if m.settings.csdh:
            head += f",{pdu.sender.toa},4,{pdu.pid},{ud.dcs},\"{m.sim.smsc}\",145,{ud.udl}"
        return [head, encode_te_text(text, cscs)]
    head = f'{lead}"{stat.text}","{encode_te_text(pdu.destination.number, cscs)}",'
    if m.settings.csdh:
        head += f",{pdu.destination.toa},{ud.udl}"
    return [head, encode_te_text(text, cscs)]


def _pdu_lines(stat: Stat, stored: StoredMessage, index: int | None) -> list[str]:
    lead = f"+CMGL: {index},{int(stat)},," if index is not None else f"+CMGR: {int(stat)},,"
    return [f"{lead}{stored.tpdu_length}", stored.pdu]


def cmgr(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        return []
    require_sms(m)
    index = cmd.int_arg(0)
    store = _store(m, 0)
    if not store.valid_index(index):
        raise AtError.cms(CMS_INVALID_INDEX)
    stored = store.get(index)
    if stored is None:
        if m.dialect.empty_read_ok:
            return []
        raise AtError.cms(CMS_INVALID_INDEX)
    stat = stored.stat
    if stat is Stat.REC_UNREAD:
        stored.stat = Stat.REC_READ
    if _text_mode(m):
        return _text_header(m, stat, stored.pdu, None)
    return _pdu_lines(stat, stored, None)


def cmgl(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        if _text_mode(m):
            return ['+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")']
        return ["+CMGL: (0-4)"]
    require_sms(m)
    wanted: Stat | None
    if _text_mode(m):
        arg = cmd.arg(0, "REC UNREAD").upper()
        if arg == "ALL":
            wanted = None
        else:
            wanted = Stat.from_text(arg)
            if wanted is None:
                raise AtError.cms(CMS_BAD_TEXT)
    else:
        arg_raw = cmd.arg(0, "0")
        if not arg_raw.isdigit() or int(arg_raw) > 4:
            raise AtError.cms(CMS_BAD_PDU)
        value = int(arg_raw)
        wanted = None if value == 4 else Stat(value)
    out: list[str] = []
    for index, stored in _store(m, 0).listing(wanted):
        stat = stored.stat
        if stat is Stat.REC_UNREAD:
            stored.stat = Stat.REC_READ
        if _text_mode(m):
            out += _text_header(m, stat, stored.pdu, index)
        else:
            out += _pdu_lines(stat, stored, index)
    return out


def cmgd(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        store = _store(m, 0)
        used = ",".join(str(i) for i in sorted(store.messages))
        return [f"+CMGD: ({used}),(0-4)"]
    require_sms(m)
    store = _store(m, 0)
    index = cmd.int_arg(0, store.first_index)
    flag = cmd.int_arg(1, 0)
    if flag not in range(5):
        raise AtError.cms(CMS_NOT_ALLOWED)
    if flag == 0:
        if not store.valid_index(index):
            raise AtError.cms(CMS_INVALID_INDEX)
        deleted = store.delete(index)
    else:
        deleted = store.delete_flagged(flag) > 0
    if deleted:
        m.after_response(m.storage_freed)
    return []


def cnma(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        return ["+CNMA: (0-2)"]
    if m.settings.csms != 1:
        raise AtError.cms(CMS_NO_CNMA_EXPECTED)
    n = cmd.int_arg(0, 0) if cmd.form is Form.SET else 0
    pending = m.pending_acks[0] if m.pending_acks else None
    if not m.acknowledge():
        raise AtError.cms(CMS_NO_CNMA_EXPECTED)
    if n == 2 and pending is not None:  # RP-ERROR: the network will try again
        m.network.redeliver_later(m, pending.pdu, pending.tpdu_length, pending.status_report)
    return []


# ---- indications ----------------------------------------------------------------------------


def cmt_lines(m: SimModem, pdu_hex: str, tpdu_length: int) -> list[str]:
    if not _text_mode(m):
        return [f"+CMT: ,{tpdu_length}", pdu_hex]
    try:
        pdu = decode_pdu(pdu_hex, has_smsc=True)
    except PduError:
        return [f"+CMT: ,{tpdu_length}", pdu_hex]
    if not isinstance(pdu, Deliver):
        return [f"+CMT: ,{tpdu_length}", pdu_hex]
    ud = pdu.user_data
    text = ud.text if ud.text is not None else ud.payload.hex().upper()
    cscs = m.settings.cscs
    return [f'+CMT: "{encode_te_text(pdu.sender.number, cscs)}",,"{_scts_text(pdu.timestamp)}"',
            encode_te_text(text, cscs)]


def cds_lines(m: SimModem, pdu_hex: str, tpdu_length: int) -> list[str]:
    if not _text_mode(m):
        return [f"+CDS: {tpdu_length}", pdu_hex]
    try:
        pdu = decode_pdu(pdu_hex, has_smsc=True)
    except PduError:
        return [f"+CDS: {tpdu_length}", pdu_hex]
    if not isinstance(pdu, StatusReport):
        return [f"+CDS: {tpdu_length}", pdu_hex]
    return [f'+CDS: 6,{pdu.message_reference},"{pdu.recipient.number}",{pdu.recipient.toa},'
            f'"{_scts_text(pdu.scts)}","{_scts_text(pdu.discharge_time)}",{pdu.status}']


def filler_pdu(m: SimModem) -> tuple[str, int]:
    """An old operator promotion, the kind of message that fills a forgotten SIM."""
    when = m.network.now() - timedelta(days=30 + m.rng.randrange(300))
    pdu = encode_deliver(m.sim.operator.short_name[:11], "Your weekend bonus is active.",
                         timestamp=when, smsc=m.sim.operator.smsc)[0]
    return pdu, tpdu_length_of(pdu)


SMS_COMMAND_NAMES = frozenset({
    "+CMGF", "+CSCA", "+CSMP", "+CSMS", "+CPMS", "+CNMI", "+CMGS", "+CMGW", "+CMSS", "+CMGL",
    "+CMGR", "+CMGD", "+CNMA", "+CMMS", "+CSDH", "+CSCB",
})

COMMANDS: dict[str, Handler] = {
    "+CMGF": cmgf,
    "+CSCA": csca,
    "+CSMP": csmp,
    "+CSMS": csms,
    "+CPMS": cpms,
    "+CNMI": cnmi,
    "+CMMS": cmms,
    "+CSDH": csdh,
    "+CSCB": cscb,
    "+CMGS": cmgs,
    "+CMGW": cmgw,
    "+CMSS": cmss,
    "+CMGR": cmgr,
    "+CMGL": cmgl,
    "+CMGD": cmgd,
    "+CNMA": cnma,
}

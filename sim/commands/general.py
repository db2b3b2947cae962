"""V.250 basics and TS 27.007 identification: echo, result codes, profile, identity strings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.atline import AtCommand, Form
from sim.errors import CME_SIM_NOT_INSERTED, CME_SIM_PIN, CME_SIM_PUK, AtError

if TYPE_CHECKING:
    from sim.modem import Handler, Reply, SimModem


def _flag(cmd: AtCommand, allowed: tuple[int, ...] = (0, 1)) -> int:
    value = int(cmd.raw) if cmd.raw.isdigit() else 0 if cmd.raw == "" else -1
    if value not in allowed:
        raise AtError.plain()
    return value


def at_e(m: SimModem, cmd: AtCommand) -> Reply:
    m.settings.echo = bool(_flag(cmd))
    return []


def at_v(m: SimModem, cmd: AtCommand) -> Reply:
    m.settings.verbose = bool(_flag(cmd))
    return []


def at_q(m: SimModem, cmd: AtCommand) -> Reply:
    m.settings.quiet = bool(_flag(cmd))
    return []


def at_z(m: SimModem, cmd: AtCommand) -> Reply:
    """ATZ / AT&F: back to the stored profile (echo on, PDU mode, CNMI and CMEE defaults)."""
    m.settings = m.dialect.default_settings()
    return []


def at_accept(m: SimModem, cmd: AtCommand) -> Reply:
    """Commands a modem accepts without visible effect here (AT&W, ATX4, AT&C1, ATL, ATM...)."""
    return []


def at_s(m: SimModem, cmd: AtCommand) -> Reply:
    reg = int(cmd.name[1:])
    if cmd.form is Form.READ:
        return [f"{m.settings.sregs.get(reg, 0):03d}"]
    if cmd.form is Form.SET:
        if not cmd.raw.isdigit() or int(cmd.raw) > 255:
            raise AtError.plain()
        m.settings.sregs[reg] = int(cmd.raw)
    return []


def at_i(m: SimModem, cmd: AtCommand) -> Reply:
    return m.dialect.ati(m)


def at_h(m: SimModem, cmd: AtCommand) -> Reply:
    m.hang_up_call()
    return []


def at_a(m: SimModem, cmd: AtCommand) -> Reply:
    raise AtError.plain()  # no call to answer: real modems say NO CARRIER or ERROR


def at_d(m: SimModem, cmd: AtCommand) -> Reply:
    return ["NO CARRIER"]


def cgmi(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        return []
    return m.dialect.cgmi_lines(m)


def cgmm(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        return []
    return m.dialect.cgmm_lines(m)


def cgmr(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        return []
    return m.dialect.cgmr_lines(m)


def cgsn(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        return []
    return m.dialect.cgsn_lines(m)


def gcap(m: SimModem, cmd: AtCommand) -> Reply:
    return [m.dialect.gcap]


def require_sim(m: SimModem) -> None:
    """SIM-dependent commands fail the way TS 27.007 says when the SIM is missing or locked."""
    if not m.sim_present:
        raise AtError.cme(CME_SIM_NOT_INSERTED)
    if m.sim.puk_blocked:
        raise AtError.cme(CME_SIM_PUK)
    if m.sim.locked:
        raise AtError.cme(CME_SIM_PIN)
    if not m.sim_ready:
        raise AtError.cme(14)


def cimi(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        return []
    require_sim(m)
    return [m.sim.imsi]


def ccid(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        return []
    if not m.sim_present:
        raise AtError.cme(CME_SIM_NOT_INSERTED)
    return m.dialect.ccid_lines(m, cmd.name)


def cnum(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        return []
    require_sim(m)
    return [f'+CNUM: "","{m.sim.msisdn}",145']


def cmee(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.READ:
        return [f"+CMEE: {m.settings.cmee}"]
    if cmd.form is Form.TEST:
        return ["+CMEE: (0-2)"]
    value = cmd.int_arg(0, 0)
    if value not in (0, 1, 2):
        raise AtError.plain()
    m.settings.cmee = value
    return []


def cscs(m: SimModem, cmd: AtCommand) -> Reply:
    charsets = m.dialect.charsets
    if cmd.form is Form.READ:
        return [f'+CSCS: "{m.settings.cscs}"']
    if cmd.form is Form.TEST:
        return ["+CSCS: (" + ",".join(f'"{c}"' for c in charsets) + ")"]
    if cmd.form is Form.SET:
        value = cmd.arg(0).upper()
        if value not in charsets:
            raise AtError.cme(4)
        m.settings.cscs = value
    return []


def _switch(name: str, attr: str, allowed: tuple[int, ...] = (0, 1)) -> Handler:
    def handler(m: SimModem, cmd: AtCommand) -> Reply:
        if cmd.form is Form.READ:
            return [f"{name}: {getattr(m.settings, attr)}" + m.dialect.switch_suffix(name, m)]
        if cmd.form is Form.TEST:
            return [f"{name}: ({','.join(str(a) for a in allowed)})"]
        if cmd.form is Form.SET:
            value = cmd.int_arg(0, 0)
            if value not in allowed:
                raise AtError.cme(50) if m.settings.cmee else AtError.plain()
            setattr(m.settings, attr, value)
        return []

    return handler


def cbc(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        return ["+CBC: (0-2),(1-100),(voltage)"]
    return [m.dialect.cbc_line(m)]


def clac(m: SimModem, cmd: AtCommand) -> Reply:
    names = sorted(n for n in m.dialect.commands if n[0] in "+^$#&" or len(n) == 1)
    return ["AT" + n for n in names if not n.startswith("S")]


def cpas(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        return ["+CPAS: (0-5)"]
    return ["+CPAS: 0"]


def chup(m: SimModem, cmd: AtCommand) -> Reply:
    m.hang_up_call()
    return []


def clcc(m: SimModem, cmd: AtCommand) -> Reply:
    return []


def cclk(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.READ:
        now = m.network.now()
        offset = now.utcoffset()
        quarters = int(offset.total_seconds() // 900) if offset is not None else 0
        return [f'+CCLK: "{now:%y/%m/%d,%H:%M:%S}{quarters:+03d}"']
    if cmd.form is Form.TEST:
        return []
    return []


def cpbs(m: SimModem, cmd: AtCommand) -> Reply:
    require_sim(m)
    if cmd.form is Form.READ:
        return ['+CPBS: "SM",0,250']
    if cmd.form is Form.TEST:
        return ['+CPBS: ("SM","ON","FD","LD")']
    return []


def cpbr(m: SimModem, cmd: AtCommand) -> Reply:
    require_sim(m)
    if cmd.form is Form.TEST:
        return ["+CPBR: (1-250),40,14"]
    return []


def not_supported(m: SimModem, cmd: AtCommand) -> Reply:
    """Known to exist on some firmware, not on this one: `+CME ERROR: 4` with CMEE, else ERROR."""
    raise AtError.cme(4)


COMMANDS: dict[str, Handler] = {
    "E": at_e,
    "V": at_v,
    "Q": at_q,
    "Z": at_z,
    "&F": at_z,
    "&W": at_accept,
    "&C": at_accept,
    "&D": at_accept,
    "&K": at_accept,
    "X": at_accept,
    "L": at_accept,
    "M": at_accept,
    "I": at_i,
    "H": at_h,
    "A": at_a,
    "D": at_d,
    "+CGMI": cgmi,
    "+GMI": cgmi,
    "+CGMM": cgmm,
    "+GMM": cgmm,
    "+CGMR": cgmr,
    "+GMR": cgmr,
    "+CGSN": cgsn,
    "+GSN": cgsn,
    "+GCAP": gcap,
    "+CIMI": cimi,
    "+CCID": ccid,
    "+CNUM": cnum,
    "+CMEE": cmee,
    "+CSCS": cscs,
    "+CLIP": _switch("+CLIP", "clip"),
    "+CRC": _switch("+CRC", "crc"),
    "+CVHU": _switch("+CVHU", "cvhu"),
    "+CBC": cbc,
    "+CLAC": clac,
    "+CPAS": cpas,
    "+CHUP": chup,
    "+CLCC": clcc,
    "+CCLK": cclk,
    "+CPBS": cpbs,
    "+CPBR": cpbr,
    "+CTZU": at_accept,
}

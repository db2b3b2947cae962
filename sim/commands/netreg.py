"""SIM PIN, radio power, registration, operator and signal (TS 27.007 7-8)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.atline import AtCommand, Form
from sim.commands.general import require_sim
from sim.errors import (
    CME_BAD_PASSWORD,
    CME_NO_NETWORK,
    CME_SIM_NOT_INSERTED,
    AtError,
)

if TYPE_CHECKING:
    from sim.modem import Handler, Reply, SimModem


def cpin(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        return []
    if not m.sim_present:
        raise AtError.cme(CME_SIM_NOT_INSERTED)
    if cmd.form is Form.READ or cmd.form is Form.EXEC:
        if m.sim.puk_blocked:
            return ["+CPIN: SIM PUK"]
        if m.sim.locked:
            return ["+CPIN: SIM PIN"]
        if not m.sim_ready:
            raise AtError.cme(14)  # SIM busy while it initialises
        return ["+CPIN: READY"]
    code = cmd.arg(0)
    if m.sim.puk_blocked:
        if code != m.sim.puk or not cmd.arg(1):
            raise AtError.cme(CME_BAD_PASSWORD)
        m.sim.pin = cmd.arg(1)
        m.sim.puk_blocked = False
        m.sim.pin_attempts_left = 3
        m.after_response(m.sim_unlocked)
        return []
    if not m.sim.locked:
        raise AtError.cme(3)  # operation not allowed: no PIN asked for
    if code != m.sim.pin:
        m.sim.pin_attempts_left -= 1
        if m.sim.pin_attempts_left <= 0:
            m.sim.puk_blocked = True
        raise AtError.cme(CME_BAD_PASSWORD)
    m.sim.pin_attempts_left = 3
    m.after_response(m.sim_unlocked)
    return []


def cfun(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.READ:
        return [f"+CFUN: {m.cfun}"]
    if cmd.form is Form.TEST:
        return ["+CFUN: (0,1,4),(0-1)"]
    if cmd.form is Form.SET:
        fun = cmd.int_arg(0)
        reset = cmd.int_arg(1, 0)
        if fun not in (0, 1, 4) or reset not in (0, 1):
            raise AtError.cme(50)
        if reset == 1:
            m.after_response(m.reboot)
        else:
            m.after_response(lambda: m.set_cfun(fun))
    return []


def _reg(name: str, attr: str) -> Handler:
    def handler(m: SimModem, cmd: AtCommand) -> Reply:
        if cmd.form is Form.TEST:
            return [f"{name}: (0-2)"]
        if cmd.form is Form.READ:
            n = getattr(m.settings, attr)
            stat = m.reg_stat
            if n >= 2 and stat in (1, 5):
                extra = f',"{m.dialect.lac}","{m.dialect.cell_id}"'
                if m.dialect.lte:
                    extra += ",7"
                return [f"{name}: {n},{stat}{extra}"]
            return [f"{name}: {n},{stat}"]
        if cmd.form is Form.SET:
            n = cmd.int_arg(0, 0)
            if n not in (0, 1, 2):
                raise AtError.cme(50) if m.settings.cmee else AtError.plain()
            setattr(m.settings, attr, n)
            return []
        return []

    return handler


def cops(m: SimModem, cmd: AtCommand) -> Reply:
    op = m.sim.operator
    names = {0: op.name, 1: op.short_name, 2: op.numeric}
    if cmd.form is Form.READ:
        if not m.registered:
            return [f"+COPS: {0}"]
        fmt = m.settings.cops_format
        return [f'+COPS: 0,{fmt},"{names[fmt]}",{m.dialect.act}']
    if cmd.form is Form.TEST:
        if m.cfun != 1:
            raise AtError.cme(CME_NO_NETWORK)
        items = []
        for other in m.network.operators:
            stat = 2 if other == op and m.registered else 1 if other == op else 3
            items.append(f'({stat},"{other.name}","{other.short_name}","{other.numeric}",'
                         f"{m.dialect.act})")
        return ["+COPS: " + ",".join(items) + ",,(0-4),(0-2)"]
    mode = cmd.int_arg(0, 0)
    if mode == 3:
        fmt = cmd.int_arg(1, 0)
        if fmt not in (0, 1, 2):
            raise AtError.cme(50)
        m.settings.cops_format = fmt
        return []
    if mode in (0, 4):
        return []
    if mode == 2:
        m.after_response(lambda: m.set_cfun(m.cfun))  # deregister: modelled as no-op
        return []
    if mode == 1:
        require_sim(m)
        wanted = cmd.arg(2)
        if wanted not in names.values():
            raise AtError.cme(CME_NO_NETWORK)
        return []
    raise AtError.cme(50)


def csq(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        return ["+CSQ: (0-31,99),(0-7,99)"]
    rssi = m.rssi if m.registered else 99
    return [f"+CSQ: {rssi},{0 if rssi != 99 else 99}"]


def cesq(m: SimModem, cmd: AtCommand) -> Reply:
    if not m.dialect.lte:
        raise AtError.plain()
    if cmd.form is Form.TEST:
        return ["+CESQ: (0-63,99),(0-7,99),(0-96,255),(0-49,255),(0-34,255),(0-97,255)"]
    if not m.registered:
        return ["+CESQ: 99,99,255,255,255,255"]
    rsrp = min(97, max(0, 2 * m.rssi + 12))  # -113+2*rssi dBm -> RSRP index around it
    return [f"+CESQ: 99,99,255,255,{20 if rsrp > 40 else 10},{rsrp}"]


def cgatt(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.READ:
        return [f"+CGATT: {1 if m.registered else 0}"]
    if cmd.form is Form.TEST:
        return ["+CGATT: (0,1)"]
    return []


def cgdcont(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.READ:
        return ['+CGDCONT: 1,"IP","internet","0.0.0.0",0,0']
    if cmd.form is Form.TEST:
        return ['+CGDCONT: (1-16),"IP",,,(0-2),(0-4)']
    return []


COMMANDS: dict[str, Handler] = {
    "+CPIN": cpin,
    "+CFUN": cfun,
    "+CREG": _reg("+CREG", "creg"),
    "+CGREG": _reg("+CGREG", "cgreg"),
    "+CEREG": _reg("+CEREG", "cereg"),
    "+COPS": cops,
    "+CSQ": csq,
    "+CESQ": cesq,
    "+CGATT": cgatt,
    "+CGDCONT": cgdcont,
}

"""`AT+CUSD`: the operator's USSD menu (balance, own number, a small interactive menu).

The answer comes later as a `+CUSD:` URC, encoded the way each firmware does it (row 18 of
modem-behaviour.md): the dialect turns text into the string and DCS it prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.atline import AtCommand, Form
from sim.commands.general import require_sim
from sim.errors import CME_NO_NETWORK, AtError

if TYPE_CHECKING:
    from sim.modem import Handler, Reply, SimModem

MENU = "1 Balance\n2 My number\n3 Exit"


def answer(m: SimModem, request: str) -> tuple[int, str | None]:
    """(<m>, text) the network answers to a USSD string; <m> 1 means it waits for a reply."""
    code = request.strip()
    session = m.ussd_session
    if session == "menu":
        m.ussd_session = None
        if code == "1":
            return 0, _balance(m)
        if code == "2":
            return 0, f"Your number is {m.sim.msisdn}"
        return 2, None
    if code in ("*100#", "*101#", "#100#"):
        return 0, _balance(m)
    if code in ("*135#", "*99#", "*#100#"):
        return 0, f"Your number is {m.sim.msisdn}"
    if code == "*111#":
        m.ussd_session = "menu"
        return 1, MENU
    return 4, None


def _balance(m: SimModem) -> str:
    sim = m.sim
    if sim.balance is None:
        return f"{sim.operator.name}: postpaid tariff, no prepaid balance."
    return f"{sim.operator.name}: Balance {sim.balance:.2f} {sim.currency}."


def cusd(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.READ:
        return [f"+CUSD: {m.settings.cusd}"]
    if cmd.form is Form.TEST:
        return ["+CUSD: (0-2)"]
    if cmd.form is not Form.SET:
        return []
    n = cmd.int_arg(0, 0)
    if n not in (0, 1, 2):
        raise AtError.cme(50)
    if n == 2:
        m.ussd_session = None
        return []
    m.settings.cusd = n
    raw = cmd.arg(1)
    if not raw:
        return []
    require_sim(m)
    if not m.registered:
        raise AtError.cme(CME_NO_NETWORK)
    dcs = cmd.int_arg(2, 15)
    try:
        request = m.dialect.ussd_decode(m, raw, dcs)
    except ValueError:
        raise AtError.cme(50) from None
    status, text = answer(m, request)

    def respond() -> None:
        if text is None:
            m.urc(f"+CUSD: {status}")
            return
        payload, out_dcs = m.dialect.ussd_encode(m, text)
        m.urc(f'+CUSD: {status},"{payload}",{out_dcs}')

    m.later(m.dialect.ussd_delay * m.boot_time, respond)
    return []


COMMANDS: dict[str, Handler] = {"+CUSD": cusd}

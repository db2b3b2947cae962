"""Modem dialects: identity strings, banners, vendor URCs, storages, +CNMI modes and USSD coding.

Each firmware family is a small subclass of `Dialect`; the core interpreter never asks which
vendor it is. Strings follow the vendors' AT manuals and captures collected in
`modem-behaviour.md` (rows 10, 11, 13, 16, 18).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from drivers.pdu import gsm7
from sim.atline import AtCommand, Form
from sim.commands import base_commands
from sim.commands.general import at_accept, not_supported, require_sim
from sim.commands.sms import SMS_COMMAND_NAMES
from sim.errors import CME_SIM_NOT_INSERTED, AtError
from sim.settings import Settings

if TYPE_CHECKING:
    from sim.modem import Handler, Reply, SimModem


@dataclass(frozen=True, slots=True)
class BootStep:
    """A point of the boot sequence, at `at` x boot_time seconds after power-on."""

    at: float
    event: str  # "rdy" (input accepted), "sim" (SIM initialised), "sms" (SMS ready), "" (none)
    lines: tuple[str, ...]


def swap_nibbles(digits: str) -> str:
    """EF_ICCID order as `+CRSM` and Huawei's `^ICCID` print it ("8949..." -> "9894...")."""
    padded = digits if len(digits) % 2 == 0 else digits + "F"
    return "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2))


class Dialect:
    """A plain TS 27.005/27.007 modem; subclasses override what their firmware does differently."""

    name: ClassVar[str] = "generic"
    manufacturer: ClassVar[str] = "smsgw-sim"
    model: ClassVar[str] = "GSM-1"
    revision: ClassVar[str] = "1.0"
    tac: ClassVar[str] = "35000011"
    gcap: ClassVar[str] = "+GCAP: +CGSM"
    prompt: ClassVar[bytes] = b"\r\n> "
    lte: ClassVar[bool] = False
    act: ClassVar[int] = 0
    lac: ClassVar[str] = "1A2B"
    cell_id: ClassVar[str] = "3C4D"
    first_index: ClassVar[int] = 1
    storages: ClassVar[dict[str, int]] = {"SM": 30, "ME": 100}
    cpms_choices: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("SM", "ME"), ("SM", "ME"), ("SM", "ME"))
    default_mem: ClassVar[str] = "SM"
    default_cnmi: ClassVar[tuple[int, int, int, int, int]] = (0, 0, 0, 0, 0)
    cnmi_supported: ClassVar[tuple[tuple[int, ...], ...]] = (
        (0, 1, 2, 3), (0, 1, 2, 3), (0, 2), (0, 1, 2), (0, 1))
    charsets: ClassVar[tuple[str, ...]] = ("IRA", "GSM", "UCS2", "HEX", "8859-1")
    default_cscs: ClassVar[str] = "IRA"
    empty_read_ok: ClassVar[bool] = True
    has_periodic_urcs: ClassVar[bool] = False
    cnma_timeout: ClassVar[float] = 15.0
    ussd_delay: ClassVar[float] = 0.3  # x boot_time
    sms_commands: ClassVar[frozenset[str]] = SMS_COMMAND_NAMES
    boot_steps: ClassVar[tuple[BootStep, ...]] = (
        BootStep(0.1, "rdy", ("RDY",)),
        BootStep(0.3, "sim", ("+CPIN: READY",)),
        BootStep(1.0, "sms", ()),
    )

    def __init__(self) -> None:
        table = base_commands()
        table.update(self.extra_commands())
        for name in self.removed_commands():
            table.pop(name, None)
        self.commands: dict[str, Handler] = table

    # ---- tables -------------------------------------------------------------------------------

    def extra_commands(self) -> dict[str, Handler]:
        return {"+CRSM": crsm}

    def removed_commands(self) -> tuple[str, ...]:
        return () if self.lte else ("+CEREG", "+CESQ")

    def default_settings(self) -> Settings:
        return Settings(
            cnmi=self.default_cnmi,
            mems=[self.default_mem] * 3,
            cscs=self.default_cscs,
        )

    # ---- identity -----------------------------------------------------------------------------

    def cgmi_lines(self, m: SimModem) -> list[str]:
        return [self.manufacturer]

    def cgmm_lines(self, m: SimModem) -> list[str]:
        return [self.model]

    def cgmr_lines(self, m: SimModem) -> list[str]:
        return [self.revision]

    def cgsn_lines(self, m: SimModem) -> list[str]:
        return [m.imei]

    def ati(self, m: SimModem) -> list[str]:
        return [f"{self.manufacturer} {self.model}", f"Revision: {self.revision}"]

    def ccid_lines(self, m: SimModem, command: str) -> list[str]:
        return [f"+CCID: {m.sim.iccid}"]

    def cbc_line(self, m: SimModem) -> str:
        return "+CBC: 0,100,4200"

    def switch_suffix(self, name: str, m: SimModem) -> str:
        return ",1" if name == "+CLIP" else ""

    # ---- URCs ---------------------------------------------------------------------------------

    def noise_urc(self, m: SimModem) -> str:
        """A harmless URC for `urc_in_response`: what this firmware says unprompted."""
        return f"+CREG: {m.reg_stat}"

    def storm_urcs(self, m: SimModem) -> list[str]:
        return [f"+CREG: {m.reg_stat}", f"+CIEV: 2,{min(5, m.rssi // 6)}", "+CGREG: 1"]

    def periodic_urcs(self, m: SimModem) -> list[str]:
        return []

    def storage_full_urcs(self, mem: str) -> list[str]:
        return ["+SMS FULL"]

    def sim_removed_urcs(self) -> tuple[str, ...]:
        return ("+CPIN: NOT READY",)

    def pin_required_urcs(self) -> tuple[str, ...]:
        return ("+CPIN: SIM PIN",)

    def sim_ready_urcs(self) -> tuple[str, ...]:
        return ("+CPIN: READY",)

    def registration_urcs(self, m: SimModem, stat: int) -> list[str]:
        return []

    # ---- USSD ---------------------------------------------------------------------------------

    def ussd_encode(self, m: SimModem, text: str) -> tuple[str, int]:
        """Network text -> (string, dcs) as this firmware prints it in `+CUSD:`."""
        if m.settings.cscs == "UCS2":
            return text.encode("utf-16-be").hex().upper(), 72
        return text, 15

    def ussd_decode(self, m: SimModem, raw: str, dcs: int) -> str:
        if m.settings.cscs == "UCS2" and _is_hex(raw) and len(raw) % 4 == 0:
            return bytes.fromhex(raw).decode("utf-16-be")
        return raw


def _is_hex(text: str) -> bool:
    return bool(text) and re.fullmatch(r"[0-9A-Fa-f]+", text) is not None


def crsm(m: SimModem, cmd: AtCommand) -> Reply:
    """`AT+CRSM=176,12258,0,0,10`: READ BINARY of EF_ICCID, the vendor-neutral ICCID path."""
    if cmd.form is Form.TEST:
        return []
    if not m.sim_present:
        raise AtError.cme(CME_SIM_NOT_INSERTED)
    if cmd.int_arg(0) == 176 and cmd.int_arg(1) == 12258:
        return [f'+CRSM: 144,0,"{swap_nibbles(m.sim.iccid)}"']
    return ["+CRSM: 106,130"]  # file not found


class Generic(Dialect):
    pass


class Sim800(Dialect):
    """SIMCom SIM800 (2G): `RDY`/`Call Ready`/`SMS Ready` banners, NITZ URCs, `+CCID` bare."""

    name = "sim800"
    manufacturer = "SIMCOM_Ltd"
    model = "SIMCOM_SIM800L"
    revision = "Revision:1418B04SIM800L24"
    tac = "86777703"
    default_cnmi = (2, 1, 0, 0, 0)
    storages: ClassVar[dict[str, int]] = {"SM": 30, "ME": 50}
    boot_steps = (
        BootStep(0.1, "rdy", ("RDY",)),
        BootStep(0.15, "", ("+CFUN: 1",)),
        BootStep(0.3, "sim", ("+CPIN: READY",)),
        BootStep(0.8, "", ("Call Ready",)),
        BootStep(1.0, "sms", ("SMS Ready",)),
    )

    def ati(self, m: SimModem) -> list[str]:
        return ["SIM800 R14.18"]

    def ccid_lines(self, m: SimModem, command: str) -> list[str]:
        return [m.sim.iccid]

    def cbc_line(self, m: SimModem) -> str:
        return "+CBC: 0,87,4012"

    def extra_commands(self) -> dict[str, Handler]:
        return {**super().extra_commands(), "+DDET": at_accept, "+CIURC": at_accept,
                "+CLTS": at_accept}

    def noise_urc(self, m: SimModem) -> str:
        now = m.network.now()
        return f'*PSUTTZ: {now:%Y,%m,%d,%H,%M,%S},"+4",0'

    def storm_urcs(self, m: SimModem) -> list[str]:
        return [self.noise_urc(m), "DST: 0", "+CIEV: 10,\"26201\",\"SimTel\",\"SimTel\",0,0"]

    def sim_ready_urcs(self) -> tuple[str, ...]:
        return ("+CPIN: READY", "Call Ready", "SMS Ready")


class Sim7600(Dialect):
    """SIMCom SIM7600 (LTE, Qualcomm): rejects +CNMI ds=1, `+CICCID`, USSD as UCS-2 hex."""

    name = "sim7600"
    manufacturer = "SIMCOM INCORPORATED"
    model = "SIMCOM_SIM7600E-H"
    revision = "LE20B04SIM7600M22"
    tac = "86244703"
    gcap = "+GCAP: +CGSM,+FCLASS,+DS"
    lte = True
    act = 7
    lac = "1A2B"
    cell_id = "01C3D4E5"
    first_index = 0
    storages: ClassVar[dict[str, int]] = {"SM": 30, "ME": 255, "SR": 64}
    cpms_choices = (("SM", "ME", "SR"), ("SM", "ME"), ("SM", "ME"))
    default_cnmi = (2, 1, 0, 0, 0)
    cnmi_supported = ((0, 1, 2), (0, 1, 2, 3), (0, 2), (0, 2), (0, 1))
    boot_steps = (
        BootStep(0.1, "rdy", ("RDY",)),
        BootStep(0.3, "sim", ("+CPIN: READY",)),
        BootStep(0.9, "sms", ("SMS DONE",)),
        BootStep(1.0, "", ("PB DONE",)),
    )

    def ati(self, m: SimModem) -> list[str]:
        return [f"Manufacturer: {self.manufacturer}", f"Model: {self.model}",
                f"Revision: {self.revision}", f"IMEI: {m.imei}", self.gcap]

    def cgmr_lines(self, m: SimModem) -> list[str]:
        return [f"+CGMR: {self.revision}"]

    def ccid_lines(self, m: SimModem, command: str) -> list[str]:
        return [f"+ICCID: {m.sim.iccid}"]

    def extra_commands(self) -> dict[str, Handler]:
        return {**super().extra_commands(), "+CICCID": _ccid_handler, "+CPSI": _cpsi,
                "+CNMP": at_accept, "+CSQ_URC": at_accept}

    def removed_commands(self) -> tuple[str, ...]:
        return ("+CCID",)

    def noise_urc(self, m: SimModem) -> str:
        return "+CGEV: ME PDN ACT 1"

    def storm_urcs(self, m: SimModem) -> list[str]:
        return ["+CGEV: ME PDN ACT 1", "+CGEV: ME PDN DEACT 1", f"+CREG: {m.reg_stat}"]

    def sim_removed_urcs(self) -> tuple[str, ...]:
        return ("+SIMCARD: NOT AVAILABLE",)

    def sim_ready_urcs(self) -> tuple[str, ...]:
        return ("+CPIN: READY", "SMS DONE", "PB DONE")

    def ussd_encode(self, m: SimModem, text: str) -> tuple[str, int]:
        return text.encode("utf-16-be").hex().upper(), 72


class Ec25(Dialect):
    """Quectel EC25 (LTE): `+QIND` URCs, `+QCCID`, indexes from 0, `+QIND: "smsfull"`."""

    name = "ec25"
    manufacturer = "Quectel"
    model = "EC25"
    revision = "EC25EFAR06A06M4G"
    tac = "86718204"
    gcap = "+GCAP: +CGSM"
    lte = True
    act = 7
    cell_id = "01C3D4E5"
    first_index = 0
    storages: ClassVar[dict[str, int]] = {"SM": 30, "ME": 255, "MT": 285}
    cpms_choices = (("SM", "ME", "MT"), ("SM", "ME", "MT"), ("SM", "ME", "MT"))
    default_cnmi = (2, 1, 0, 0, 0)
    boot_steps = (
        BootStep(0.1, "rdy", ("RDY",)),
        BootStep(0.15, "", ("+CFUN: 1",)),
        BootStep(0.3, "sim", ("+CPIN: READY", "+QUSIM: 1")),
        BootStep(0.9, "sms", ("+QIND: SMS DONE",)),
        BootStep(1.0, "", ("+QIND: PB DONE",)),
    )

    def ati(self, m: SimModem) -> list[str]:
        return [self.manufacturer, self.model, f"Revision: {self.revision}"]

    def ccid_lines(self, m: SimModem, command: str) -> list[str]:
        return [f"+QCCID: {m.sim.iccid}"]

    def extra_commands(self) -> dict[str, Handler]:
        return {**super().extra_commands(), "+QCCID": _ccid_handler, "+QINDCFG": at_accept,
                "+QCFG": at_accept, "+QURCCFG": at_accept, "+QNWINFO": _qnwinfo,
                "+QSIMSTAT": at_accept}

    def removed_commands(self) -> tuple[str, ...]:
        return ("+CCID",)

    def noise_urc(self, m: SimModem) -> str:
        return f'+QIND: "csq",{m.rssi},99'

    def storm_urcs(self, m: SimModem) -> list[str]:
        return [f'+QIND: "csq",{m.rssi},99', '+QIND: "act","LTE"', f"+CREG: {m.reg_stat}"]

    def storage_full_urcs(self, mem: str) -> list[str]:
        return [f'+QIND: "smsfull","{mem}"']

    def sim_removed_urcs(self) -> tuple[str, ...]:
        return ("+QUSIM: 0", "+CPIN: NOT READY")

    def sim_ready_urcs(self) -> tuple[str, ...]:
        return ("+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE")


class E3372(Dialect):
    """Huawei E3372 (LTE stick): `^RSSI`/`^HCSQ` flood until `^CURC=0`, packed GSM-7 USSD."""

    name = "e3372"
    manufacturer = "huawei"
    model = "E3372"
    revision = "22.315.01.00.00"
    tac = "86327702"
    gcap = "+GCAP: +CGSM,+DS,+ES"
    lte = True
    act = 7
    cell_id = "01C3D4E5"
    first_index = 0
    storages: ClassVar[dict[str, int]] = {"SM": 40, "ME": 100}
    default_cnmi = (0, 0, 0, 0, 0)
    empty_read_ok = False
    has_periodic_urcs = True
    boot_steps = (
        BootStep(0.1, "rdy", ()),
        BootStep(0.2, "", ("^BOOT:27731395,0,0,0,72",)),
        BootStep(0.3, "sim", ("^SIMST: 1",)),
        BootStep(0.6, "", ("^SRVST: 2",)),
        BootStep(1.0, "sms", ()),
    )

    def ati(self, m: SimModem) -> list[str]:
        return [f"Manufacturer: {self.manufacturer}", f"Model: {self.model}",
                f"Revision: {self.revision}", f"IMEI: {m.imei}", self.gcap]

    def ccid_lines(self, m: SimModem, command: str) -> list[str]:
        return [f"^ICCID: {swap_nibbles(m.sim.iccid)}"]

    def cbc_line(self, m: SimModem) -> str:
        raise AtError.cme(4)

    def extra_commands(self) -> dict[str, Handler]:
        return {**super().extra_commands(), "^ICCID": _ccid_handler, "^CURC": _curc,
                "^USSDMODE": _ussdmode, "^SYSINFO": _sysinfo, "^SYSINFOEX": _sysinfoex,
                "^HCSQ": _hcsq, "^SYSCFGEX": at_accept, "^SYSCFG": at_accept,
                "^DSFLOWQRY": _dsflowqry, "^CVOICE": not_supported, "^PORTSEL": at_accept,
                "^HWVER": _hwver}

    def removed_commands(self) -> tuple[str, ...]:
        return ("+CCID",)

    def noise_urc(self, m: SimModem) -> str:
        return f"^RSSI:{m.rssi}"

    def periodic_urcs(self, m: SimModem) -> list[str]:
        return [f"^RSSI:{m.rssi}", f'^HCSQ:"LTE",{m.rssi * 2},{m.rssi * 2 + 5},120,20']

    def storm_urcs(self, m: SimModem) -> list[str]:
        return [f"^RSSI:{m.rssi}", f'^HCSQ:"LTE",{m.rssi * 2},{m.rssi * 2 + 5},120,20',
                "^MODE:7,17", "^DSFLOWRPT:0000003C,00000000,00000000,0000000000000000,"
                "0000000000000000,0003E800,0003E800"]

    def storage_full_urcs(self, mem: str) -> list[str]:
        return [f'^SMMEMFULL: "{mem}"']

    def sim_removed_urcs(self) -> tuple[str, ...]:
        return ("^SIMST: 255",)

    def pin_required_urcs(self) -> tuple[str, ...]:
        return ("^SIMST: 255,1",)

    def sim_ready_urcs(self) -> tuple[str, ...]:
        return ("^SIMST: 1",)

    def registration_urcs(self, m: SimModem, stat: int) -> list[str]:
        return [f"^SRVST: {2 if stat in (1, 5) else 0}"]

    def ussd_encode(self, m: SimModem, text: str) -> tuple[str, int]:
        if m.settings.ussd_mode == 1:
            return text, 15
        try:
            septets = gsm7.encode_septets(text)
        except UnicodeEncodeError:
            return text.encode("utf-16-be").hex().upper(), 72
        return gsm7.pack_septets(septets).hex().upper(), 15

    def ussd_decode(self, m: SimModem, raw: str, dcs: int) -> str:
        if m.settings.ussd_mode == 0 and _is_hex(raw) and len(raw) % 2 == 0:
            octets = bytes.fromhex(raw)
            count = len(octets) * 8 // 7
            text = gsm7.decode_septets(gsm7.unpack_septets(octets, count))
            if len(octets) * 8 % 7 == 0 and text.endswith("@"):
                text = text[:-1]  # the padding septet of 3GPP 23.038 6.1.2.3.1 read as @
            return text.rstrip("\r")
        return raw


def _ccid_handler(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.TEST:
        return []
    if not m.sim_present:
        raise AtError.cme(CME_SIM_NOT_INSERTED)
    return m.dialect.ccid_lines(m, cmd.name)


def _cpsi(m: SimModem, cmd: AtCommand) -> Reply:
    if not m.registered:
        return ["+CPSI: NO SERVICE,Online"]
    op = m.sim.operator
    return [f"+CPSI: LTE,Online,{op.mcc}-{op.mnc},0x{m.dialect.lac},{int(m.dialect.cell_id, 16)},"
            f"302,EUTRAN-BAND3,1300,5,5,-94,-850,-580,15"]


def _qnwinfo(m: SimModem, cmd: AtCommand) -> Reply:
    if not m.registered:
        return ["+QNWINFO: No Service"]
    return [f'+QNWINFO: "FDD LTE","{m.sim.operator.numeric}","LTE BAND 3",1300']


def _curc(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.READ:
        return [f"^CURC: {m.settings.curc}"]
    if cmd.form is Form.SET:
        m.settings.curc = cmd.int_arg(0, 0)
    return []


def _ussdmode(m: SimModem, cmd: AtCommand) -> Reply:
    if cmd.form is Form.READ:
        return [f"^USSDMODE: {m.settings.ussd_mode}"]
    if cmd.form is Form.TEST:
        return ["^USSDMODE: (0-1)"]
    if cmd.form is Form.SET:
        m.settings.ussd_mode = cmd.int_arg(0, 0)
    return []


def _sysinfo(m: SimModem, cmd: AtCommand) -> Reply:
    srv = 2 if m.registered else 0
    sim = 1 if m.sim_present and not m.sim_locked else 255
    return [f"^SYSINFO: {srv},3,0,{17 if srv else 0},{sim},,{7 if srv else 0}"]


def _sysinfoex(m: SimModem, cmd: AtCommand) -> Reply:
    srv = 2 if m.registered else 0
    sim = 1 if m.sim_present and not m.sim_locked else 255
    return [f'^SYSINFOEX: {srv},3,0,{sim},,6,"LTE",101,"LTE"']


def _hcsq(m: SimModem, cmd: AtCommand) -> Reply:
    if not m.registered:
        return ['^HCSQ: "NOSERVICE"']
    return [f'^HCSQ: "LTE",{m.rssi * 2},{m.rssi * 2 + 5},120,20']


def _hwver(m: SimModem, cmd: AtCommand) -> Reply:
    return ['^HWVER:"CL2E3372HM"']


def _dsflowqry(m: SimModem, cmd: AtCommand) -> Reply:
    require_sim(m)
    return ["^DSFLOWQRY: 00000000,0000000000000000,0000000000000000,00000000,"
            "0000000000000000,0000000000000000"]


PROFILES: dict[str, type[Dialect]] = {
    d.name: d for d in (Generic, Sim800, Sim7600, Ec25, E3372)
}


def dialect_for(profile: str) -> Dialect:
    try:
        return PROFILES[profile]()
    except KeyError:
        raise ValueError(
            f"unknown profile {profile!r}; one of {', '.join(PROFILES)} or 'mixed'"
        ) from None

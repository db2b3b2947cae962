"""URC parsing per dialect, and log redaction."""

from __future__ import annotations

import pytest

from drivers.at.urc import UrcRouter
from drivers.dialects import (
    GenericDialect,
    HuaweiDialect,
    QuectelDialect,
    SierraDialect,
    SimcomDialect,
    UbloxDialect,
    detect,
)
from drivers.dialects.base import Dialect, pack_gsm7_hex, ussd_alphabet
from drivers.events import (
    IncomingCall,
    ModemRebooted,
    RegistrationChanged,
    ServiceReady,
    SimState,
    SimStateChanged,
    StorageFull,
    UssdReceived,
)
from drivers.redact import redact_line


def route(dialect: Dialect, *lines: str) -> list[object]:
    router = UrcRouter(dialect.urc_patterns(), ignored_prefixes=dialect.ignored_prefixes)
    events: list[object] = []
    for line in lines:
        urcs, rest = router.feed(line)
        assert rest is None, f"{line!r} was not recognised"
        events.extend(u.event for u in urcs if u.event is not None)
    return events


def test_standard_urcs() -> None:
    events = route(GenericDialect(), "RING", '+CLIP: "+4917012345678",145,"",0', "RDY",
                   "+CREG: 5", '+CEREG: 1,"00C3","01A2B3C4",7', "SMS Ready", "+SMS FULL",
                   "+CPIN: SIM PIN", "NO CARRIER")
    assert events == [
        IncomingCall(None), IncomingCall("+4917012345678"), ModemRebooted("RDY"),
        RegistrationChanged(5, "CREG"), RegistrationChanged(1, "CEREG"), ServiceReady("sms"),
        StorageFull(None), SimStateChanged(SimState.PIN_REQUIRED),
    ]


def test_quectel_urcs() -> None:
    events = route(QuectelDialect(), "+QIND: SMS DONE", '+QIND: "smsfull","SM"',
                   '+QIND: "csq",20,99', "+QUSIM: 1")
    assert events == [ServiceReady("sms"), StorageFull("SM"), SimStateChanged(SimState.READY)]


def test_huawei_urcs_and_boot_debounce() -> None:
    huawei = HuaweiDialect()
    events = route(huawei, "^BOOT:27731395,0,0,0,72", "^RSSI:17", "^SIMST: 255,1",
                   '^SMMEMFULL: "SM"', "^BOOT:27731395,0,0,0,72", "^HCSQ:\"LTE\",40,45,120,20")
    assert events == [ModemRebooted("^BOOT:27731395,0,0,0,72"),
                      SimStateChanged(SimState.PIN_REQUIRED), StorageFull("SM")]


def test_simcom_and_sierra_and_ublox_urcs() -> None:
    assert route(SimcomDialect(), "+SIMCARD: NOT AVAILABLE", "*PSUTTZ: 2025,1,1", "DST: 0") == [
        SimStateChanged(SimState.NOT_INSERTED)]
    assert route(SierraDialect(), "!GSTATUS: x") == []
    assert route(UbloxDialect(), "+UUPSDD: 0") == []


@pytest.mark.parametrize(
    ("manufacturer", "model", "expected"),
    [("SIMCOM_Ltd", "SIMCOM_SIM800L", SimcomDialect), ("Quectel", "EC25", QuectelDialect),
     ("huawei", "E3372", HuaweiDialect), ("Sierra Wireless, Incorporated", "MC7455",
     SierraDialect), ("u-blox", "SARA-R410M", UbloxDialect), ("ACME", "X1", GenericDialect)],
)
def test_detect(manufacturer: str, model: str, expected: type[Dialect]) -> None:
    assert detect(manufacturer, model) is expected


def test_ussd_decoding() -> None:
    generic, huawei = GenericDialect(), HuaweiDialect()
    assert huawei.encode_ussd("*100#") == ("AA180C3602", 15)
    assert huawei.decode_ussd(pack_gsm7_hex("Balance: 5.00 EUR"), 15) == "Balance: 5.00 EUR"
    assert huawei.decode_ussd(pack_gsm7_hex("1234567"), 15) == "1234567"  # CR padding
    ucs2 = "Баланс".encode("utf-16-be").hex().upper()
    assert generic.decode_ussd(ucs2, 72) == "Баланс"
    assert generic.decode_ussd("plain text", 15) == "plain text"
    assert ussd_alphabet(0x48) == "ucs2" and ussd_alphabet(0x0F) == "gsm7"
    assert ussd_alphabet(0x11) == "ucs2" and ussd_alphabet(0x44) == "8bit"
    (event,) = route(huawei, f'+CUSD: 0,"{pack_gsm7_hex("Hi")}",15')
    assert event == UssdReceived(0, "Hi", 15, pack_gsm7_hex("Hi"))


def test_redaction() -> None:
    assert "4917012345678" not in redact_line('+CLIP: "+4917012345678",145')
    assert "Balance" not in redact_line('+CUSD: 0,"Balance 5 EUR",15')
    pdu = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
    assert redact_line(pdu) == "<pdu 38 octets>"
    assert redact_line("+CSQ: 20,99") == "+CSQ: 20,99"

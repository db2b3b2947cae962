"""systemd/99-smsgw.rules: udev itself reads it without complaint, and on the device trees of
the known modems (firmware-notes/) it marks exactly the AT port, and ModemManager off every port."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.system.udev_eval import Device, Event, Rule, RuleSyntaxError, load, parse, run

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "systemd" / "99-smsgw.rules"
PATH_TAG = "pci-0000_00_14_0-usb-0_1_3"


def _usb_device(vendor: str, product: str, serial: str = "") -> Device:
    return Device("usb", "1-3", "usb",
                  {"idVendor": vendor, "idProduct": product, "serial": serial})


def _interface(number: str, cls: str = "ff", sub: str = "ff", proto: str = "ff",
               driver: str = "option") -> Device:
    return Device("usb", f"1-3:1.{int(number)}", driver,
                  {"bInterfaceNumber": number, "bInterfaceClass": cls,
                   "bInterfaceSubClass": sub, "bInterfaceProtocol": proto})


def tty_event(vendor: str, product: str, number: str, *, acm: bool = False, cls: str = "ff",
              sub: str = "ff", proto: str = "ff", action: str = "add") -> Event:
    """A ttyUSBn (usbserial) or ttyACMn (cdc_acm) port as 60-serial.rules leaves it."""
    kernel = f"ttyACM{int(number)}" if acm else f"ttyUSB{int(number)}"
    chain = [Device("tty", kernel)]
    if not acm:
        chain.append(Device("usb-serial", kernel, "option1"))
    chain += [_interface(number, cls, sub, proto, "cdc_acm" if acm else "option"),
              _usb_device(vendor, product), Device("usb", "usb1", "usb", {"idVendor": "1d6b"})]
    env = {"ID_VENDOR_ID": vendor, "ID_MODEL_ID": product, "ID_USB_INTERFACE_NUM": number,
           "ID_PATH_TAG": f"{PATH_TAG}_1_{int(number)}"}
    return Event(chain, env, action=action)


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    return load(RULES)


# (vendor, product, interface numbers, the AT port, family) from firmware-notes/ and
# modem-behaviour row 21
USB_MODEMS = [
    ("2c7c", "0125", ["00", "01", "02", "03", "04"], "02", "quectel"),  # EC25 / EG25
    ("2c7c", "0121", ["00", "01", "02", "03"], "02", "quectel"),  # EC21
    ("2c7c", "0296", ["00", "01", "02", "03"], "02", "quectel"),  # BG96
    ("1e0e", "9001", ["00", "01", "02", "03", "05"], "02", "simcom"),  # SIM7600
    ("1e0e", "9011", ["02", "03", "04", "05", "06"], "04", "simcom"),  # SIM7600, RNDIS
    ("1199", "9071", ["00", "02", "03"], "03", "sierra"),  # MC7455 / MC7430
    ("1199", "9079", ["00", "02", "03"], "03", "sierra"),  # EM7455
]


@pytest.mark.parametrize(("vendor", "product", "interfaces", "at_port", "family"), USB_MODEMS)
def test_only_the_at_port_of_a_known_modem_is_given_to_dialout(
    rules: list[Rule], vendor: str, product: str, interfaces: list[str], at_port: str,
    family: str,
) -> None:
    for number in interfaces:
        event = run(rules, tty_event(vendor, product, number))
        assert event.env.get("ID_MM_DEVICE_IGNORE") == "1", (product, number)
        if number == at_port:
            assert (event.group, event.mode) == ("dialout", "0660")
            assert event.symlinks == [f"smsgw/{family}-{PATH_TAG}_1_{int(number)}-if{number}"]
            assert event.env["SMSGW_AT_PORT"] == "1"
        else:
            assert event.group is None and event.symlinks == [], (product, number)


def test_modemmanager_keeps_off_the_usb_device_and_its_network_port(rules: list[Rule]) -> None:
    device = run(rules, Event([_usb_device("2c7c", "0125"), Device("usb", "usb1", "usb")]))
    assert device.env.get("ID_MM_DEVICE_IGNORE") == "1"
    assert device.group is None and device.symlinks == []
    wwan = run(rules, Event([Device("net", "wwan0"), _interface("04", driver="qmi_wwan"),
                             _usb_device("2c7c", "0125")]))
    assert wwan.env.get("ID_MM_DEVICE_IGNORE") == "1" and wwan.group is None


def test_huawei_pc_ui_port_is_found_by_its_descriptor(rules: list[Rule]) -> None:
    # E3372 stick mode: if00 modem (protocol 10), if01 PC UI (protocol 12), LTE numbering
    modem = run(rules, tty_event("12d1", "1506", "00", sub="06", proto="10"))
    pcui = run(rules, tty_event("12d1", "1506", "01", sub="06", proto="12"))
    assert modem.env.get("ID_MM_DEVICE_IGNORE") == "1" and modem.group is None
    assert pcui.group == "dialout"
    assert pcui.symlinks == [f"smsgw/huawei-{PATH_TAG}_1_1-if01"]
    # E173, 3G numbering: PC UI is protocol 02 whatever its interface number
    e173 = run(rules, tty_event("12d1", "1436", "04", sub="02", proto="02"))
    assert e173.group == "dialout"
    # HiLink firmware has no AT port: nothing to do, nothing to hide
    hilink = run(rules, tty_event("12d1", "14dc", "00", proto="02"))
    assert hilink.env.get("ID_MM_DEVICE_IGNORE") is None and hilink.group is None


def test_ublox_first_acm_port_is_the_at_port_and_gnss_receivers_are_left_alone(
    rules: list[Rule],
) -> None:
    first = run(rules, tty_event("1546", "1141", "00", acm=True, cls="02", sub="02", proto="01"))
    second = run(rules, tty_event("1546", "1141", "02", acm=True, cls="02", sub="02", proto="01"))
    assert first.group == "dialout" and first.symlinks == [f"smsgw/ublox-{PATH_TAG}_1_0-if00"]
    assert second.group is None and second.env.get("ID_MM_DEVICE_IGNORE") == "1"
    gnss = run(rules, tty_event("1546", "01a8", "00", acm=True, cls="02"))
    assert gnss.env.get("ID_MM_DEVICE_IGNORE") is None and gnss.group is None


@pytest.mark.parametrize("product", [("10c4", "ea60"), ("1a86", "7523"), ("0403", "6001"),
                                     ("0bda", "8153")])
def test_other_usb_devices_are_untouched(rules: list[Rule], product: tuple[str, str]) -> None:
    event = run(rules, tty_event(*product, "00"))
    assert event.env.get("ID_MM_DEVICE_IGNORE") is None
    assert event.group is None and event.symlinks == []


def test_removal_events_are_ignored(rules: list[Rule]) -> None:
    event = run(rules, tty_event("2c7c", "0125", "02", action="remove"))
    assert event.group is None and "ID_MM_DEVICE_IGNORE" not in event.env


def test_every_usb_id_in_the_firmware_notes_is_covered_or_excluded_for_a_reason() -> None:
    covered = set()
    for rule in load(RULES):
        vendors = [t.value for t in rule.tokens if t.attr == "idVendor" and t.op == "=="]
        products = [t.value for t in rule.tokens if t.attr == "idProduct" and t.op == "=="]
        for vendor in vendors:
            for product in products[0].split("|") if products else []:
                covered.add(f"{vendor}:{product}")
    excluded = {
        "12d1:14dc": "HiLink firmware: no AT port",
        "12d1:155e": "E3372h-320 alternative mode: answers only AT (field reports)",
        "10c4:ea60": "CP210x bridge (SIM800): generic, named per box in a commented rule",
        "1a86:7523": "CH340 bridge (SIM800): generic",
        "0403:6001": "FTDI bridge (SIM800): generic",
    }
    notes = REPO / "firmware-notes"
    mentioned = set()
    for name in ("simcom", "quectel", "huawei", "sierra", "ublox"):
        text = (notes / f"{name}.md").read_text()
        # `vvvv:pppp` USB IDs; modeswitch-only IDs (storage mode) are written `vvvv:pppp (storage)`
        for vendor, product in re.findall(r"`([0-9a-f]{4}):([0-9a-f]{4})`(?! \(storage)", text):
            mentioned.add(f"{vendor}:{product}")
    assert mentioned, "the firmware notes list USB IDs as `vvvv:pppp`"
    missing = sorted(mentioned - covered - set(excluded))
    assert not missing, f"USB IDs in firmware-notes/ without a udev rule: {missing}"


def test_the_reader_rejects_what_udev_would_misread() -> None:
    with pytest.raises(RuleSyntaxError, match="missing comma"):
        parse('KERNEL=="ttyUSB0" GROUP="dialout"')
    with pytest.raises(RuleSyntaxError, match="cannot be assigned"):
        parse('ATTRS{idVendor}="2c7c"')
    with pytest.raises(RuleSyntaxError, match="cannot be matched"):
        parse('GROUP=="dialout"')
    rules = parse('GOTO="nowhere"')
    with pytest.raises(RuleSyntaxError, match="no LABEL"):
        run(rules, tty_event("2c7c", "0125", "02"))


def _udevadm_test(rules_dir: Path) -> list[str]:
    """Run `udevadm test` with only `rules_dir` as /etc/udev/rules.d (a private mount
    namespace: the system's rules directory is not touched) and return its complaints."""
    assert shutil.which("udevadm"), "udevadm missing: `make system-deps` installs Debian's udev"
    device = sorted(Path("/sys/class/tty").iterdir())[0]
    script = f"mount --bind {rules_dir} /etc/udev/rules.d && udevadm test {device}"
    done = subprocess.run(["unshare", "--mount", "sh", "-c", script],
                          capture_output=True, text=True, timeout=60, check=False)
    output = done.stdout + done.stderr
    assert "Reading rules file: /etc/udev/rules.d/" in output, output[-2000:]
    return [line for line in output.splitlines()
            if "/etc/udev/rules.d/" in line and "Reading rules file" not in line]


def test_udev_reads_the_rules_without_complaint(tmp_path: Path) -> None:
    (tmp_path / "99-smsgw.rules").write_bytes(RULES.read_bytes())
    assert _udevadm_test(tmp_path) == []
    # and the same harness does see a broken rule
    (tmp_path / "99-smsgw.rules").write_text(RULES.read_text() + 'ENV{X}=="1", GRUP="dialout"\n')
    complaints = _udevadm_test(tmp_path)
    assert complaints and "GRUP" in complaints[0]

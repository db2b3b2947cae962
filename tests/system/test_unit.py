"""systemd/smsgw.service: systemd accepts every line, and rates the sandbox "OK" (< 3.0)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "smsgw.service"
EXEC_START = "/opt/smsgw/venv/bin/smsgw run --config /etc/smsgw/smsgw.toml"


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert shutil.which("systemd-analyze"), (
        "systemd-analyze missing: `make system-deps` installs Debian's systemd package"
    )
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True,
                          timeout=60, check=False)


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key}", []).append(value)
    return settings


def _runnable_copy(tmp_path: Path, text: str | None = None) -> Path:
    """The unit with ExecStart pointing at this checkout's `smsgw` (verify needs a real file);
    the arguments stay as they are."""
    smsgw = Path(sys.executable).parent / "smsgw"
    assert smsgw.is_file()
    text = UNIT.read_text() if text is None else text
    copy = tmp_path / "smsgw.service"
    copy.write_text(text.replace("/opt/smsgw/venv/bin/smsgw", str(smsgw)))
    return copy


def _verify(unit: Path) -> str:
    done = _analyze("verify", "--man=no", str(unit))
    return (done.stdout + done.stderr).strip() + ("" if done.returncode == 0 else " (failed)")


def test_systemd_analyze_verify_accepts_every_line(tmp_path: Path) -> None:
    assert _verify(_runnable_copy(tmp_path)) == ""


def test_verify_would_catch_a_typo_or_a_bad_value(tmp_path: Path) -> None:
    typo = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict")
    assert "Unknown key 'ProtectSytem'" in _verify(_runnable_copy(tmp_path, typo))
    bad = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystem=stict")
    assert "stict" in _verify(_runnable_copy(tmp_path, bad))


def exposure(unit: Path) -> tuple[float, str]:
    done = _analyze("security", "--offline=yes", "--no-pager", str(unit))
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", done.stdout)
    assert match, done.stdout[-2000:] + done.stderr
    return float(match.group(1)), match.group(2)


def test_security_rating_is_ok(tmp_path: Path) -> None:
    level, verdict = exposure(_runnable_copy(tmp_path))
    assert verdict == "OK" and level < 3.0, (level, verdict)


def test_the_rating_would_notice_the_sandbox_going(tmp_path: Path) -> None:
    keep = ("Type=", "NotifyAccess=", "ExecStart=", "User=", "Group=", "Restart", "Watchdog",
            "Description=", "WantedBy=", "[")
    loose = "\n".join(line for line in UNIT.read_text().splitlines()
                      if line.startswith(keep))
    level, verdict = exposure(_runnable_copy(tmp_path, loose))
    assert level >= 3.0 and verdict != "OK", (level, verdict)


def test_the_unit_says_what_the_issue_asks() -> None:
    s = unit_settings(UNIT.read_text())
    one = {key: values[-1] for key, values in s.items()}
    assert one["Service.Type"] == "notify" and one["Service.NotifyAccess"] == "main"
    assert int(one["Service.WatchdogSec"]) > 0 and one["Service.Restart"] == "on-failure"
    assert one["Service.ExecStart"] == EXEC_START
    assert one["Service.User"] == "smsgw" and "dialout" in one["Service.SupplementaryGroups"]
    assert one["Service.StateDirectory"] == "smsgw"
    assert one["Service.ConfigurationDirectory"] == "smsgw"
    expected = {
        "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
        "DevicePolicy": "closed", "SystemCallArchitectures": "native",
        "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes", "RestrictRealtime": "yes",
        "RestrictNamespaces": "yes", "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes",
        "UMask": "0077", "ProtectProc": "invisible", "ProcSubset": "pid",
    }
    assert {k: one.get(f"Service.{k}") for k in expected} == expected
    assert s["Service.DeviceAllow"] == ["char-ttyUSB rw", "char-ttyACM rw"]
    assert s["Service.SystemCallFilter"][0] == "@system-service"
    assert set(one["Service.RestrictAddressFamilies"].split()) == {
        "AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    # webhooks go to whatever address the app names: no IP allow list; no private user
    # namespace (the dialout group of the ports could not be mapped into it)
    for absent in ("IPAddressDeny", "IPAddressAllow", "PrivateUsers", "PrivateDevices"):
        assert f"Service.{absent}" not in s

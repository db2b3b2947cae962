"""`smsgw doctor`: find what stops the gateway from working on this box, and say how to fix it.

Each check looks at the system the way the service will meet it: serial ports through the eyes
of the service user (`smsgw`, member of `dialout`; root's own access proves nothing, root ignores
mode bits), ModemManager (a second program probing an AT port garbles replies and may delete SMS
from the SIM, modem-behaviour row 22), the store (opens, passes `integrity_check`, WAL, free
space), the clock (validity periods, report matching and quiet hours need the right time) and the
configuration. Checks only read: the doctor never creates, locks or changes anything.

Mode bits are evaluated for the service user; ACLs are only seen for the user running the doctor
(through `access(2)`), so a port opened up with `setfacl` for another user may be reported wrong.
"""

from __future__ import annotations

import contextlib
import glob
import grp
import os
import pwd
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Final
from urllib.parse import quote

from gateway.config import ConfigError, Settings, default_config_file, load_config
from gateway.service import SERIAL_GROUP, SERVICE_USER, service_environ

DEFAULT_PORT_GLOB: Final = "/dev/serial/by-id/*"  # what the daemon scans with no [[modems]]
UNIT_DEVICE_DRIVERS: Final = frozenset({"ttyUSB", "ttyACM"})  # DeviceAllow= in smsgw.service
UDEV_RULES: Final = "/etc/udev/rules.d/99-smsgw.rules"
MIN_YEAR: Final = 2025  # older than the software: the clock was never set
MAX_YEAR: Final = 2100
DISK_FAIL_BYTES: Final = 64 * 1024 * 1024
DISK_WARN_BYTES: Final = 512 * 1024 * 1024
COMMAND_TIMEOUT: Final = 5.0


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    check: str  # "config", "serial", "modemmanager", "store", "clock", "service"
    status: Status
    message: str
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class Host:
    """Where the doctor looks; tests point these at prepared directories."""

    proc: Path = Path("/proc")
    udev_data: Path = Path("/run/udev/data")
    udev_rules: Path = Path(UDEV_RULES)
    timesync_flag: Path = Path("/run/systemd/timesync/synchronized")


@dataclass(frozen=True, slots=True)
class Account:
    """Who the checks are for: a name, a uid and every group id it has."""

    name: str
    uid: int
    gids: frozenset[int]

    @classmethod
    def lookup(cls, name: str) -> Account | None:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return None
        return cls(name, entry.pw_uid, frozenset(os.getgrouplist(name, entry.pw_gid)))

    @classmethod
    def current(cls) -> Account:
        uid = os.geteuid()
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = str(uid)
        return cls(name, uid, frozenset({os.getegid(), *os.getgroups()}))


@dataclass(frozen=True, slots=True)
class DoctorOptions:
    config: Path | None = None
    user: str = SERVICE_USER
    ports: tuple[str, ...] = ()  # checked in addition to the configured ones
    quick: bool = False  # quick_check instead of integrity_check on a large store
    host: Host = field(default_factory=Host)


# --- small helpers ------------------------------------------------------------------------------


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def describe_mode(st: os.stat_result) -> str:
    return f"{stat.filemode(st.st_mode)} {_user_name(st.st_uid)}:{_group_name(st.st_gid)}"


def mode_allows(st: os.stat_result, account: Account, *, read: bool, write: bool) -> bool:
    """What the kernel decides from the mode bits alone (no ACLs) for a non-root account."""
    if account.uid == 0:
        return True
    if st.st_uid == account.uid:
        shift = 6
    elif st.st_gid in account.gids:
        shift = 3
    else:
        shift = 0
    bits = (st.st_mode >> shift) & 0o7
    return (not read or bool(bits & 0o4)) and (not write or bool(bits & 0o2))


def _char_drivers(proc: Path) -> dict[int, str]:
    """Character device majors from /proc/devices: 188 -> ttyUSB, 166 -> ttyACM, 136 -> pts."""
    drivers: dict[int, str] = {}
    try:
        text = (proc / "devices").read_text()
    except OSError:
        return drivers
    for line in text.split("Block devices:")[0].splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():
            drivers.setdefault(int(parts[0]), parts[1])
    return drivers


def _processes(proc: Path) -> Iterator[tuple[int, str]]:
    try:
        entries = list(proc.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / "comm").read_text().strip()
            except OSError:
                continue


def holders(path: str, proc: Path) -> list[tuple[int, str]]:
    """Processes with `path` open (only those we may look into: all of them as root)."""
    target = os.path.realpath(path)
    found: list[tuple[int, str]] = []
    for pid, comm in _processes(proc):
        fd_dir = proc / str(pid) / "fd"
        try:
            fds = list(fd_dir.iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == target:
                    found.append((pid, comm))
                    break
            except OSError:
                continue
    return found


def udev_properties(st: os.stat_result, udev_data: Path) -> dict[str, str] | None:
    """The udev database entry of a character device (`E:KEY=value` lines), None if absent."""
    entry = udev_data / f"c{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    try:
        text = entry.read_text()
    except OSError:
        return None
    props: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("E:") and "=" in line:
            key, _, value = line[2:].partition("=")
            props[key] = value
    return props


# --- the checks ---------------------------------------------------------------------------------


def check_config(
    path: Path | None, environ: Mapping[str, str]
) -> tuple[list[Finding], Settings | None]:
    """Validate file + `SMSGW_*` environment as `smsgw run` would (store default included)."""
    findings: list[Finding] = []
    if path is None:
        findings.append(Finding(
            "config", Status.WARN, "no configuration file: running on defaults",
            "copy /etc/smsgw/smsgw.toml.example to /etc/smsgw/smsgw.toml and edit it",
        ))
    try:
        settings = load_config(path, environ=environ, use_default_file=False)
    except ConfigError as exc:
        return findings + [
            Finding("config", Status.FAIL, f"{path or 'environment'}: {issue}",
                    "fix the key named (see smsgw.toml.example); `smsgw config check` rechecks")
            for issue in exc.issues
        ], None
    if path is not None:
        findings.append(Finding("config", Status.OK, f"{path}: valid"))
    return findings, settings


def check_config_file_mode(path: Path | None, service: Account | None) -> list[Finding]:
    if path is None:
        return []
    try:
        st = path.stat()
    except OSError:
        return []
    findings: list[Finding] = []
    if service is not None and not mode_allows(st, service, read=True, write=False):
        findings.append(Finding(
            "config", Status.FAIL,
            f"{path}: user {service.name} cannot read it ({describe_mode(st)})",
            f"chgrp {service.name} {path} && chmod 640 {path}",
        ))
    if st.st_mode & stat.S_IROTH:
        findings.append(Finding(
            "config", Status.WARN,
            f"{path}: readable by every user ({describe_mode(st)}); it may hold secrets",
            f"chmod o-rwx {path}",
        ))
    return findings


def check_service_user(name: str) -> tuple[list[Finding], Account | None]:
    account = Account.lookup(name)
    if account is None:
        return [Finding(
            "service", Status.WARN,
            f"no user {name}: ports and files are checked for the current user only",
            "smsgw install (or: systemd-sysusers /etc/sysusers.d/smsgw.conf)",
        )], None
    try:
        dialout = grp.getgrnam(SERIAL_GROUP).gr_gid
    except KeyError:
        dialout = None
    if dialout is not None and dialout not in account.gids:
        return [Finding(
            "service", Status.FAIL, f"user {name} is not in group {SERIAL_GROUP}",
            f"usermod -aG {SERIAL_GROUP} {name}",
        )], account
    return [Finding("service", Status.OK, f"user {name} exists, in group {SERIAL_GROUP}")], account


def port_paths(settings: Settings | None, extra: Sequence[str]) -> tuple[list[str], list[str]]:
    """(existing ports, patterns or paths that matched nothing)."""
    patterns = [m.path for m in settings.modems] if settings is not None else []
    if settings is not None and not settings.modems:
        patterns = [DEFAULT_PORT_GLOB]
    patterns += list(extra)
    found: list[str] = []
    missing: list[str] = []
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            matches = sorted(glob.glob(pattern))
            if not matches and pattern != DEFAULT_PORT_GLOB:
                missing.append(pattern)
            found.extend(matches)
        elif os.path.lexists(pattern):
            found.append(pattern)
        else:
            missing.append(pattern)
    unique: dict[str, str] = {}
    for path in found:
        unique.setdefault(os.path.realpath(path), path)
    return list(unique.values()), missing


def check_port(
    path: str,
    service: Account | None,
    current: Account,
    host: Host,
    drivers: dict[int, str],
) -> list[Finding]:
    """Can the service user (mode bits) and the user running this (access(2)) open `path`?"""
    real = os.path.realpath(path)
    shown = path if real == path else f"{path} (-> {real})"
    try:
        st = os.stat(real)
    except OSError as exc:
        return [Finding("serial", Status.FAIL, f"{shown}: {exc.strerror}",
                        "check the cable and `ls -l /dev/serial/by-id/`")]
    if not stat.S_ISCHR(st.st_mode):
        return [Finding("serial", Status.FAIL, f"{shown}: not a character device",
                        "point [[modems]] path at the modem's tty (see /dev/serial/by-id/)")]
    findings: list[Finding] = []
    allowed: list[str] = []
    if service is not None:
        if mode_allows(st, service, read=True, write=True):
            allowed.append(service.name)
        else:
            findings.append(Finding(
                "serial", Status.FAIL,
                f"{shown}: user {service.name} has no read/write permission"
                f" ({describe_mode(st)})",
                f"install the udev rules (smsgw install) so the port gets group {SERIAL_GROUP}"
                f" mode 0660, and put {service.name} in {SERIAL_GROUP}; until the next"
                f" replug: chgrp {SERIAL_GROUP} {real} && chmod 660 {real}",
            ))
    if current.uid != 0 and (service is None or current.uid != service.uid):
        if os.access(real, os.R_OK | os.W_OK):
            allowed.append(current.name)
        else:
            findings.append(Finding(
                "serial", Status.FAIL,
                f"{shown}: permission denied for user {current.name} ({describe_mode(st)})",
                f"usermod -aG {SERIAL_GROUP} {current.name} (then log in again), or run as"
                f" the service user",
            ))
    if not findings:
        who = ", ".join(allowed) if allowed else f"root (no user {SERVICE_USER} to check for)"
        findings.append(Finding("serial", Status.OK, f"{shown}: read/write for {who}"))
    driver = drivers.get(os.major(st.st_rdev))
    if driver is not None and driver not in UNIT_DEVICE_DRIVERS:
        allow = real if driver.startswith("/") else f"char-{driver}"
        findings.append(Finding(
            "serial", Status.WARN,
            f"{shown}: not a {'/'.join(sorted(UNIT_DEVICE_DRIVERS))} device, which is all"
            " smsgw.service allows",
            f"systemctl edit smsgw, and add: [Service] DeviceAllow={allow} rw",
        ))
    for pid, comm in holders(real, host.proc):
        if pid == os.getpid():
            continue
        if comm == "ModemManager":
            findings.append(Finding(
                "serial", Status.FAIL, f"{shown}: held open by ModemManager (pid {pid})",
                "see the modemmanager check",
            ))
        elif comm == "smsgw" or comm.startswith("python"):
            findings.append(Finding("serial", Status.OK, f"{shown}: open by {comm} (pid {pid})"))
        else:
            findings.append(Finding(
                "serial", Status.WARN, f"{shown}: held open by {comm} (pid {pid})",
                f"stop {comm}: the gateway opens its ports exclusively",
            ))
    return findings


def check_ports(
    settings: Settings | None,
    extra: Sequence[str],
    service: Account | None,
    host: Host,
) -> tuple[list[Finding], list[str]]:
    paths, missing = port_paths(settings, extra)
    findings = [
        Finding("serial", Status.WARN, f"{pattern}: no such port (modem unplugged or renamed?)",
                "ls -l /dev/serial/by-id/ /dev/smsgw/ and fix [[modems]] path")
        for pattern in missing
    ]
    current = Account.current()
    drivers = _char_drivers(host.proc)
    for path in paths:
        findings += check_port(path, service, current, host, drivers)
    if not paths and not missing:
        findings.append(Finding("serial", Status.WARN, "no modem ports found",
                                "plug in a modem; `ls /dev/serial/by-id/` should list it"))
    return findings, paths


def modemmanager_pids(proc: Path) -> list[int]:
    return [pid for pid, comm in _processes(proc) if comm == "ModemManager"]


def check_modemmanager(ports: Iterable[str], host: Host) -> list[Finding]:
    pids = modemmanager_pids(host.proc)
    if not pids:
        return [Finding("modemmanager", Status.OK, "ModemManager is not running")]
    findings: list[Finding] = []
    fix = (
        f"install {UDEV_RULES} (smsgw install) for known modems, or add"
        ' ENV{ID_MM_DEVICE_IGNORE}="1" for this one; then: udevadm control --reload &&'
        " udevadm trigger --subsystem-match=tty; or stop ModemManager:"
        " systemctl disable --now ModemManager"
    )
    checked = 0
    for path in ports:
        real = os.path.realpath(path)
        try:
            st = os.stat(real)
        except OSError:
            continue
        if not stat.S_ISCHR(st.st_mode):
            continue
        checked += 1
        props = udev_properties(st, host.udev_data)
        if props is None:
            findings.append(Finding(
                "modemmanager", Status.WARN,
                f"ModemManager is running and {path} has no udev entry to tell it to keep off",
                fix,
            ))
        elif props.get("ID_MM_DEVICE_IGNORE") == "1" or props.get("ID_MM_PORT_IGNORE") == "1":
            findings.append(Finding("modemmanager", Status.OK,
                                    f"ModemManager ignores {path} (ID_MM_DEVICE_IGNORE)"))
        else:
            findings.append(Finding(
                "modemmanager", Status.FAIL,
                f"ModemManager (pid {pids[0]}) may probe {path}: no ID_MM_DEVICE_IGNORE",
                fix,
            ))
    if not checked:
        rules = "installed" if host.udev_rules.exists() else "not installed"
        findings.append(Finding(
            "modemmanager", Status.WARN,
            f"ModemManager is running (pid {pids[0]}); udev rules {UDEV_RULES} {rules}",
            fix,
        ))
    return findings


def _lock_holder(lock: Path, proc: Path) -> int | None:
    """PID holding the store's lock file, read from /proc/locks (never taking the lock)."""
    try:
        st = lock.stat()
        text = (proc / "locks").read_text()
    except OSError:
        return None
    want = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK":
            continue
        try:
            major, minor, inode = parts[5].split(":")
            if (int(major, 16), int(minor, 16), int(inode)) == want:
                return int(parts[4])
        except ValueError:
            continue
    return None


def check_store(path: Path, service: Account | None, host: Host, *, quick: bool) -> list[Finding]:
    findings: list[Finding] = []
    directory = path.parent
    if not path.exists():
        findings.append(Finding("store", Status.WARN,
                                f"{path}: no database yet (created at the first start)"))
        if not directory.is_dir():
            findings.append(Finding(
                "store", Status.WARN, f"{directory}: directory missing",
                "systemd creates it on start (StateDirectory=smsgw);"
                " or: systemd-tmpfiles --create /etc/tmpfiles.d/smsgw.conf",
            ))
    else:
        findings += _check_database(path, quick=quick)
        holder = _lock_holder(Path(f"{path}.lock"), host.proc)
        if holder is not None:
            findings.append(
                Finding("store", Status.OK, f"{path}: in use by the gateway (pid {holder})")
            )
    if directory.is_dir() and service is not None:
        st = directory.stat()
        if not mode_allows(st, service, read=True, write=True):
            findings.append(Finding(
                "store", Status.FAIL,
                f"{directory}: user {service.name} cannot write here ({describe_mode(st)})",
                f"chown {service.name}:{service.name} {directory} && chmod 700 {directory}",
            ))
        for item in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}.lock")):
            with contextlib.suppress(OSError):
                st = item.stat()
                if not mode_allows(st, service, read=True, write=True):
                    findings.append(Finding(
                        "store", Status.FAIL,
                        f"{item}: user {service.name} cannot write it ({describe_mode(st)})",
                        f"chown {service.name}:{service.name} {item}",
                    ))
    if directory.is_dir():
        findings += _check_disk(directory)
    return findings


def _check_database(path: Path, *, quick: bool) -> list[Finding]:
    pragma = "quick_check" if quick else "integrity_check"
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        return [Finding("store", Status.FAIL, f"{path}: cannot open: {exc}",
                        "check ownership and permissions of the file and its directory")]
    try:
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
        result = [row[0] for row in conn.execute(f"PRAGMA {pragma}").fetchall()]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    except sqlite3.Error as exc:
        return [Finding("store", Status.FAIL, f"{path}: unreadable: {exc}",
                        "restore the latest `smsgw backup` copy (stop the service first)")]
    finally:
        conn.close()
    findings: list[Finding] = []
    if result != ["ok"]:
        shown = "; ".join(str(r) for r in result[:3])
        findings.append(Finding(
            "store", Status.FAIL, f"{path}: {pragma} failed: {shown}",
            "stop the service, keep the file, restore the latest `smsgw backup` copy",
        ))
    else:
        size = pages * page_size / 1_000_000
        findings.append(Finding("store", Status.OK, f"{path}: {pragma} ok ({size:.1f} MB)"))
    if str(journal).lower() != "wal":
        findings.append(Finding(
            "store", Status.WARN, f"{path}: journal mode {journal}, not WAL",
            "the gateway switches it to WAL at its next start",
        ))
    return findings


def _check_disk(directory: Path) -> list[Finding]:
    try:
        usage = shutil.disk_usage(directory)
    except OSError:
        return []
    free_mb = usage.free / 1_000_000
    if usage.free < DISK_FAIL_BYTES:
        status = Status.FAIL
    elif usage.free < DISK_WARN_BYTES or usage.free < usage.total * 0.05:
        status = Status.WARN
    else:
        return [Finding("store", Status.OK, f"{directory}: {free_mb:.0f} MB free")]
    return [Finding("store", status, f"{directory}: only {free_mb:.0f} MB free",
                    "free some space: the store stops accepting messages when the disk is full")]


def _run(argv: Sequence[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def check_clock(host: Host, now: datetime | None = None) -> list[Finding]:
    now = now or datetime.now(UTC)
    findings: list[Finding] = []
    if not MIN_YEAR <= now.year <= MAX_YEAR:
        findings.append(Finding(
            "clock", Status.FAIL, f"the clock says {now:%Y-%m-%d %H:%M} UTC",
            "set the time (timedatectl set-time / enable NTP): validity periods, delivery"
            " reports and quiet hours depend on it",
        ))
    else:
        findings.append(Finding("clock", Status.OK, f"{now:%Y-%m-%d %H:%M} UTC"))
    synced = _run(["timedatectl", "show", "--property=NTPSynchronized", "--value"])
    if synced == "yes" or host.timesync_flag.exists():
        findings.append(Finding("clock", Status.OK, "synchronised by NTP"))
    elif synced == "no":
        findings.append(Finding(
            "clock", Status.WARN, "not synchronised by NTP",
            "timedatectl set-ntp true, and allow UDP 123 to your NTP servers",
        ))
    else:
        findings.append(Finding(
            "clock", Status.WARN, "cannot tell whether the clock is synchronised"
            " (timedatectl unavailable)",
            "check your NTP client (chronyc tracking, ntpq -p)",
        ))
    return findings


# --- the whole examination ---------------------------------------------------------------------


def examine(options: DoctorOptions) -> list[Finding]:
    environ = service_environ()
    config_file = options.config or default_config_file(environ)
    findings, settings = check_config(config_file, environ)
    user_findings, service = check_service_user(options.user)
    findings += user_findings
    findings += check_config_file_mode(config_file, service)
    port_findings, ports = check_ports(settings, options.ports, service, options.host)
    findings += port_findings
    findings += check_modemmanager(ports, options.host)
    if settings is not None:
        findings += check_store(settings.db_path, service, options.host, quick=options.quick)
    else:
        findings.append(Finding("store", Status.WARN, "not checked: the configuration is invalid"))
    findings += check_clock(options.host)
    return findings


def problems(findings: Iterable[Finding]) -> int:
    return sum(1 for f in findings if f.status is Status.FAIL)


def render(findings: Sequence[Finding]) -> list[str]:
    fails = problems(findings)
    warns = sum(1 for f in findings if f.status is Status.WARN)
    head = "smsgw doctor: " + (
        f"{fails} problem(s), {warns} warning(s)" if fails or warns else "all good"
    )
    lines = [head]
    for f in findings:
        lines.append(f"  {f.status.value:<5} {f.check:<13} {f.message}")
        if f.fix and f.status is not Status.OK:
            lines.append(f"  {'':<5} {'':<13} fix: {f.fix}")
    return lines


__all__ = [
    "Account",
    "DoctorOptions",
    "Finding",
    "Host",
    "Status",
    "check_clock",
    "check_config",
    "check_modemmanager",
    "check_port",
    "check_ports",
    "check_service_user",
    "check_store",
    "examine",
    "holders",
    "mode_allows",
    "problems",
    "render",
    "udev_properties",
]

"""`smsgw doctor`: a serial port the service user cannot open is found and reported with a fix;
so are ModemManager on an unmarked port, a corrupt store, a wrong clock and a bad config."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.doctor import (
    Account,
    DoctorOptions,
    Host,
    Status,
    check_clock,
    check_modemmanager,
    check_port,
    check_store,
    examine,
    problems,
    render,
)
from gateway.store import SqliteStore


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory `nobody` can enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="smsgw-doctor-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def port(shared_dir: Path) -> Iterator[Path]:
    """A real serial device (a pty slave), reached through a by-id style symlink."""
    master, slave = os.openpty()
    device = os.ttyname(slave)
    os.close(slave)
    link = shared_dir / "usb-Quectel_EC25-if02-port0"
    link.symlink_to(device)
    yield link
    os.close(master)


def _config(directory: Path, port: Path) -> Path:
    config = directory / "smsgw.toml"
    config.write_text(f'[store]\npath = "{directory}/state/smsgw.db"\n\n'
                      f'[[modems]]\npath = "{port}"\n')
    config.chmod(0o644)
    return config


def _doctor_for_nobody(config: Path) -> subprocess.CompletedProcess[str]:
    """The doctor as an admin runs it (`sudo smsgw doctor --user SERVICE_USER`): the service
    user's access is judged from mode bits, owner and groups, since root passes every access(2)
    check. (Running it *as* nobody would need the checkout readable by nobody, which a clone's
    directory need not be.)"""
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "doctor", "--config", str(config),
         "--user", "nobody"],
        capture_output=True, text=True, timeout=60, check=False, cwd="/",
        env={"PATH": os.environ["PATH"], "HOME": "/nonexistent", "PYTHONDONTWRITEBYTECODE": "1"},
    )


def _serial_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if " serial " in f" {line} "]


def test_a_port_without_permission_is_found_and_explained(shared_dir: Path, port: Path) -> None:
    device = os.path.realpath(port)
    os.chmod(device, 0o000)
    done = _doctor_for_nobody(_config(shared_dir, port))
    assert done.returncode == 1, done.stdout + done.stderr
    failed = [line for line in _serial_lines(done.stdout) if "FAIL" in line]
    assert any(str(port) in line and "user nobody has no read/write permission" in line
               for line in failed), done.stdout
    assert f"chgrp dialout {device} && chmod 660 {device}" in done.stdout


def test_the_same_port_opened_up_passes(shared_dir: Path, port: Path) -> None:
    os.chmod(os.path.realpath(port), 0o666)
    done = _doctor_for_nobody(_config(shared_dir, port))
    serial = _serial_lines(done.stdout)
    assert any(f"{port} (-> {os.path.realpath(port)}): read/write for nobody" in line
               and line.lstrip().startswith("ok") for line in serial), done.stdout
    assert not [line for line in serial if "FAIL" in line], done.stdout


def test_the_service_user_is_judged_by_mode_bits_even_when_root_runs_the_doctor(
    port: Path,
) -> None:
    nobody = Account.lookup("nobody")
    assert nobody is not None
    device = os.path.realpath(port)
    os.chown(device, 0, 0)
    os.chmod(device, 0o660)
    root = Account.current()
    found = check_port(str(port), nobody, root, Host(), {})
    assert [f.status for f in found] == [Status.FAIL]
    assert "user nobody has no read/write permission (crw-rw---- root:root)" in found[0].message
    assert found[0].fix and "chgrp dialout" in found[0].fix
    os.chown(device, 0, 65534)  # the group nobody is in
    found = check_port(str(port), nobody, root, Host(), {})
    assert [f.status for f in found] == [Status.OK]


def test_a_port_that_is_not_a_device_is_refused(shared_dir: Path) -> None:
    fake = shared_dir / "ttyUSB9"
    fake.write_text("")
    found = check_port(str(fake), None, Account.current(), Host(), {})
    assert found[0].status is Status.FAIL and "not a character device" in found[0].message


def _fake_host(tmp_path: Path, port: Path, *, ignored: bool) -> Host:
    proc = tmp_path / "proc"
    (proc / "4242").mkdir(parents=True)
    (proc / "4242" / "comm").write_text("ModemManager\n")
    udev = tmp_path / "udev"
    udev.mkdir()
    st = os.stat(os.path.realpath(port))
    lines = ["E:ID_VENDOR_ID=2c7c", "E:ID_USB_INTERFACE_NUM=02"]
    if ignored:
        lines.append("E:ID_MM_DEVICE_IGNORE=1")
    (udev / f"c{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}").write_text("\n".join(lines))
    return Host(proc=proc, udev_data=udev, udev_rules=tmp_path / "none.rules")


def test_modemmanager_on_an_unmarked_port_is_a_problem(tmp_path: Path, port: Path) -> None:
    found = check_modemmanager([str(port)], _fake_host(tmp_path, port, ignored=False))
    assert [f.status for f in found] == [Status.FAIL]
    assert "pid 4242" in found[0].message and found[0].fix
    assert "ID_MM_DEVICE_IGNORE" in found[0].fix


def test_modemmanager_is_fine_when_the_port_is_marked(tmp_path: Path, port: Path) -> None:
    found = check_modemmanager([str(port)], _fake_host(tmp_path, port, ignored=True))
    assert [f.status for f in found] == [Status.OK]


def test_no_modemmanager_no_problem(tmp_path: Path, port: Path) -> None:
    (tmp_path / "proc").mkdir()
    found = check_modemmanager([str(port)], Host(proc=tmp_path / "proc"))
    assert [f.status for f in found] == [Status.OK]


def _database(path: Path, rows: int = 2000) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t (v) VALUES (?)", [("x" * 100,) for _ in range(rows)])
    conn.execute("CREATE INDEX t_v ON t (v)")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_a_healthy_store_passes_and_a_corrupt_one_fails(tmp_path: Path) -> None:
    db = tmp_path / "smsgw.db"
    _database(db)
    found = check_store(db, None, Host(), quick=False)
    assert [f.status for f in found if f.status is not Status.OK] == []
    assert any("integrity_check ok" in f.message for f in found)
    with db.open("r+b") as handle:  # scribble over some b-tree pages
        handle.seek(4096 * 5)
        handle.write(b"\xff" * 4096 * 3)
    found = check_store(db, None, Host(), quick=False)
    assert any(f.status is Status.FAIL for f in found), found


async def test_a_running_gateways_store_is_reported_in_use(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "smsgw.db")
    try:
        found = check_store(tmp_path / "smsgw.db", None, Host(), quick=True)
    finally:
        await store.close()
    assert any(f"in use by the gateway (pid {os.getpid()})" in f.message for f in found)
    assert not [f for f in found if f.status is Status.FAIL]


def test_a_clock_that_was_never_set_fails(tmp_path: Path) -> None:
    host = Host(timesync_flag=tmp_path / "synchronized")
    found = check_clock(host, datetime(1970, 1, 1, tzinfo=UTC))
    assert found[0].status is Status.FAIL and "1970-01-01" in found[0].message
    (tmp_path / "synchronized").touch()  # what systemd-timesyncd leaves once synchronised
    found = check_clock(host, datetime.now(UTC))
    assert [f.status for f in found] == [Status.OK, Status.OK]


def test_an_invalid_config_is_reported_by_key(shared_dir: Path) -> None:
    config = shared_dir / "bad.toml"
    config.write_text('[server]\nlisten = "nowhere"\n[scheduler]\nlanez = "strict"\n')
    findings = examine(DoctorOptions(config=config, host=Host(proc=shared_dir)))
    fails = [f.message for f in findings if f.status is Status.FAIL]
    assert any("server.listen" in m for m in fails) and any("scheduler.lanez" in m for m in fails)
    assert problems(findings) >= 2
    assert render(findings)[0].startswith("smsgw doctor: ")

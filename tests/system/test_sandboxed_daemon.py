"""`smsgw run` as smsgw.service runs it, as far as a test can rebuild the sandbox without
systemd: an unprivileged user in group dialout, no capabilities, no_new_privs, UMask=0077,
MemoryDenyWriteExecute (the kernel's PR_SET_MDWE, which systemd also uses where it can) and
$NOTIFY_SOCKET/$WATCHDOG_USEC/$STATE_DIRECTORY. The daemon must say READY=1 once the API
listens, feed the watchdog from its (uvloop) event loop, say STOPPING=1 on SIGTERM and exit 0.

Not rebuilt here: the seccomp filter (SystemCallFilter=, RestrictAddressFamilies=), the mount
namespace (ProtectSystem=strict) and the device cgroup; see the README's systemd section."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1
NOBODY = 65534
DIALOUT = 20


# The launcher turns MDWE on for itself (inherited across fork and exec), sets the umask, then
# becomes setpriv, which drops to nobody:nogroup + dialout with no capabilities at all.
LAUNCHER = f"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:
    sys.exit("PR_SET_MDWE failed: errno %d" % ctypes.get_errno())
os.umask(0o077)
os.execvp(sys.argv[1], sys.argv[1:])
"""


@cache
def _service_uid() -> int:
    """nobody when nobody can import the package from this checkout; else uid 0 with every
    capability dropped (a clone in a private 0700 directory is readable only by its owner, and
    without CAP_DAC_OVERRIDE uid 0 reads it only as that owner: the same sandbox otherwise)."""
    assert shutil.which("setpriv"), "setpriv (util-linux) is needed to drop root"
    probe = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
         sys.executable, "-c", "import gateway.cli"],
        capture_output=True, timeout=60, check=False, cwd="/",
    )
    return NOBODY if probe.returncode == 0 else 0


def _sandboxed(*argv: str) -> list[str]:
    uid = _service_uid()
    return [sys.executable, "-c", LAUNCHER,
            "setpriv", f"--reuid={uid}", f"--regid={NOBODY if uid else 0}", f"--groups={DIALOUT}",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", *argv]


@pytest.fixture
def sandbox_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="smsgw-sandbox-"))
    path.chmod(0o755)
    for private in ("state", "tmp"):  # StateDirectory=, and PrivateTmp= as $TMPDIR
        (path / private).mkdir(mode=0o700)
        uid = _service_uid()
        os.chown(path / private, uid, NOBODY if uid else 0)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_sandbox_really_refuses_writable_executable_memory() -> None:
    probe = ("import mmap\n"
             "try:\n"
             "    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
             "except PermissionError:\n"
             "    print('refused')\n"
             "import os; print(os.getuid(), sorted(os.getgroups()))\n")
    done = subprocess.run(_sandboxed(sys.executable, "-c", probe),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["refused", f"{_service_uid()} [{DIALOUT}]"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _receive(sock: socket.socket, deadline: float, daemon: subprocess.Popen[str]) -> str:
    while time.monotonic() < deadline:
        try:
            return sock.recv(4096).decode()
        except TimeoutError:
            if daemon.poll() is not None:
                raise AssertionError(f"the daemon exited ({daemon.returncode})") from None
    raise AssertionError("nothing from the daemon in time")


def test_the_daemon_runs_sandboxed_and_talks_to_systemd(sandbox_dir: Path) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(sandbox_dir / "notify"))
    os.chmod(sandbox_dir / "notify", 0o777)
    notify.settimeout(0.5)
    port = _free_port()
    config = sandbox_dir / "smsgw.toml"
    config.write_text(f'[server]\nlisten = "127.0.0.1:{port}"\n\n[sim]\ncount = 1\n')
    config.chmod(0o644)
    smsgw = Path(sys.executable).parent / "smsgw"
    env = {
        "PATH": os.environ["PATH"], "HOME": "/nonexistent", "PYTHONDONTWRITEBYTECODE": "1",
        "NOTIFY_SOCKET": str(sandbox_dir / "notify"), "WATCHDOG_USEC": "2000000",
        "STATE_DIRECTORY": str(sandbox_dir / "state"), "TMPDIR": str(sandbox_dir / "tmp"),
    }
    daemon = subprocess.Popen(
        _sandboxed(str(smsgw), "run", "--config", str(config)), env=env,
        cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    messages: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while not any(m.startswith("READY=1") for m in messages):
            messages.append(_receive(notify, deadline, daemon))
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # READY=1 came after the API listens
        watchdog_deadline = time.monotonic() + 30
        while not any(m.startswith("WATCHDOG=1") for m in messages[1:]):
            messages.append(_receive(notify, watchdog_deadline, daemon))
        daemon.send_signal(signal.SIGTERM)
        stop_deadline = time.monotonic() + 30
        while not any(m.startswith("STOPPING=1") for m in messages):
            messages.append(_receive(notify, stop_deadline, daemon))
        assert daemon.wait(timeout=30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        notify.close()
        assert daemon.stderr is not None
        log = daemon.stderr.read()
    assert "event=started" in log and "loop=uvloop" in log, log[-3000:]
    # the store is where systemd's StateDirectory= says, owned by the user, private (UMask)
    db = sandbox_dir / "state" / "smsgw.db"
    st = db.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (_service_uid(), 0o600)

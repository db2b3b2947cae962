"""`smsgw install`: put the gateway on a Linux box, the same way every time.

What it lays out (under `--root`, `/` by default):

    <prefix>/venv                       a virtualenv with the smsgw package (pip)
    <prefix>/README.md                  the documentation the unit points at
    /etc/systemd/system/smsgw.service   the unit (ExecStart follows --prefix)
    /etc/udev/rules.d/99-smsgw.rules    AT ports: group dialout, ModemManager off, stable names
    /etc/sysusers.d/smsgw.conf          the service user smsgw, member of dialout
    /etc/tmpfiles.d/smsgw.conf          /var/lib/smsgw, /var/backups/smsgw, config file mode
    /etc/smsgw/smsgw.toml.example       every setting with its default (replaced on upgrade)
    /etc/smsgw/smsgw.toml               a copy of the example, only when there is none yet

then applies what needs applying: systemd-sysusers and systemd-tmpfiles for the two snippets
(also inside `--root` when it holds an /etc/passwd), and on the running system `udevadm control
--reload` plus a trigger when the rules changed and `systemctl daemon-reload` when the unit
changed. It enables the unit only with `--enable` and starts it only with `--start`.

Running it again changes nothing that is already right: files are compared before they are
written (and written atomically), the virtualenv is rebuilt only when the package source changed
(a fingerprint is kept in it), and an existing smsgw.toml is never touched.

A virtualenv records its own absolute path, so one built under `--root DIR` runs from
`DIR/<prefix>` only: `--root` is for tests and for inspecting the layout; to build an image or a
package, install the files with `--root DIR --no-venv` and create the venv at its final path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final

from gateway.service import DEFAULT_PREFIX, UNIT_NAME

SOURCE_PREFIX: Final = "/opt/smsgw"  # what systemd/smsgw.service says; replaced by --prefix
FINGERPRINT_FILE: Final = ".smsgw-install.json"
PACKAGE_DIRS: Final = ("gateway", "drivers", "sim", "web")
BUILD_FILES: Final = ("pyproject.toml", "README.md")
COMMAND_TIMEOUT: Final = 900.0  # pip on a slow link


class InstallError(Exception):
    """Installation stopped; the message says what failed and what was done before."""


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    KEPT = "kept"  # an admin's file we never overwrite
    RAN = "ran"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    what: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.action.value:<9} {self.what}" + (f"  ({self.detail})" if self.detail else "")


@dataclass(frozen=True, slots=True)
class InstallFile:
    source: str  # relative to the source checkout
    target: str  # absolute path on the installed system
    mode: int = 0o644
    keep_existing: bool = False  # the admin's copy wins


FILES: Final = (
    InstallFile("systemd/smsgw.service", f"/etc/systemd/system/{UNIT_NAME}"),
    InstallFile("systemd/99-smsgw.rules", "/etc/udev/rules.d/99-smsgw.rules"),
    InstallFile("systemd/smsgw.sysusers.conf", "/etc/sysusers.d/smsgw.conf"),
    InstallFile("systemd/smsgw.tmpfiles.conf", "/etc/tmpfiles.d/smsgw.conf"),
    InstallFile("systemd/smsgw.toml.example", "/etc/smsgw/smsgw.toml.example"),
    # 0640 root:root here; the tmpfiles snippet (z line) gives it to group smsgw.
    InstallFile("systemd/smsgw.toml.example", "/etc/smsgw/smsgw.toml", 0o640, keep_existing=True),
)
README: Final = InstallFile("README.md", "README.md")  # target relative to the prefix


@dataclass(frozen=True, slots=True)
class InstallOptions:
    root: Path = Path("/")
    prefix: Path = DEFAULT_PREFIX
    source: Path | None = None  # the checkout holding systemd/ (default: this package's)
    venv: bool = True
    package: str | None = None  # pip requirement (default: the source checkout itself)
    wheels: Path | None = None  # offline: pip --no-index --find-links DIR
    pip_args: tuple[str, ...] = ()
    enable: bool = False
    start: bool = False
    dry_run: bool = False
    python: str = field(default_factory=lambda: sys.executable)


Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )


def find_source(start: Path | None = None) -> Path:
    """The checkout this package was installed from (it has systemd/ beside gateway/)."""
    here = (start or Path(__file__)).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "systemd" / UNIT_NAME).is_file() and (
            candidate / "pyproject.toml"
        ).is_file():
            return candidate
    raise InstallError(
        "cannot find the smsgw source (a checkout with systemd/ and pyproject.toml):"
        " run from a checkout or pass --source DIR"
    )


def source_files(source: Path) -> list[Path]:
    """What a build of the package reads: pyproject.toml, README.md and the package folders."""
    files = [source / name for name in BUILD_FILES if (source / name).is_file()]
    for name in PACKAGE_DIRS:
        base = source / name
        if base.is_dir():
            files += [
                p for p in base.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            ]
    return sorted(files)


def source_fingerprint(source: Path) -> str:
    """sha256 over the package sources: the venv is rebuilt only when this changes."""
    digest = hashlib.sha256()
    for path in source_files(source):
        digest.update(str(path.relative_to(source)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def stage_source(source: Path, directory: Path) -> Path:
    """Copy the build inputs to `directory` (a clean tree for pip to build in)."""
    for path in source_files(source):
        target = directory / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return directory


class Installer:
    """Plan and apply the steps; `steps` records what was done, in order."""

    def __init__(self, options: InstallOptions, *, runner: Runner = run_command) -> None:
        if not options.root.is_absolute() or not options.prefix.is_absolute():
            raise InstallError("--root and --prefix must be absolute paths")
        self.options = options
        self.source = options.source or find_source()
        self.runner = runner
        self.steps: list[Step] = []
        self.on_system = options.root == Path("/")

    # -- paths ----------------------------------------------------------------------------------

    def target(self, path: str | Path) -> Path:
        """`path` (absolute on the installed system) inside the root we install into."""
        return self.options.root / str(path).lstrip("/")

    @property
    def venv_dir(self) -> Path:
        return self.target(self.options.prefix / "venv")

    # -- the whole installation -----------------------------------------------------------------

    def install(self) -> list[Step]:
        options = self.options
        if options.start and not self.on_system:
            raise InstallError("--start needs the running system (no --root)")
        if self.on_system and os.geteuid() != 0 and not options.dry_run:
            raise InstallError("installing into / needs root: run with sudo, or pass --root DIR")
        # The service user must be able to read the venv and the files whatever the admin's
        # umask (0077 would leave /opt/smsgw unreadable to it).
        old_umask = os.umask(0o022)
        try:
            return self._install()
        finally:
            os.umask(old_umask)

    def _install(self) -> list[Step]:
        options = self.options
        changed: set[str] = set()
        for item in FILES:
            step = self.install_file(item)
            if step.action in (Action.CREATED, Action.UPDATED):
                changed.add(item.target)
        readme = self.source / README.source
        if readme.is_file():
            self.install_file(InstallFile(README.source, str(options.prefix / README.target)))
        venv_changed = self.install_venv() if options.venv else False
        self.apply_sysusers()
        self.apply_tmpfiles()
        if "/etc/udev/rules.d/99-smsgw.rules" in changed:
            self.reload_udev()
        if f"/etc/systemd/system/{UNIT_NAME}" in changed:
            self.reload_systemd()
        if options.enable:
            self.run("enable the unit", ["systemctl", *self._root_flag(), "enable", UNIT_NAME])
        if options.start:
            verb = "restart" if changed or venv_changed else "start"
            self.run(f"{verb} the service", ["systemctl", verb, UNIT_NAME])
        return self.steps

    # -- files ----------------------------------------------------------------------------------

    def render(self, item: InstallFile) -> bytes:
        data = (self.source / item.source).read_bytes()
        if item.source.endswith(".service"):
            prefix = str(self.options.prefix).rstrip("/")
            data = data.replace(SOURCE_PREFIX.encode(), prefix.encode())
        return data

    def install_file(self, item: InstallFile) -> Step:
        path = self.target(item.target)
        try:
            data = self.render(item)
        except OSError as exc:
            raise InstallError(f"cannot read {self.source / item.source}: {exc}") from exc
        if path.exists() or path.is_symlink():
            if item.keep_existing:
                return self._record(Step(Action.KEPT, item.target, "existing file left alone"))
            try:
                same = path.read_bytes() == data and (path.stat().st_mode & 0o7777) == item.mode
            except OSError:
                same = False
            if same:
                return self._record(Step(Action.UNCHANGED, item.target))
            action = Action.UPDATED
        else:
            action = Action.CREATED
        if not self.options.dry_run:
            write_atomic(path, data, item.mode)
        return self._record(Step(action, item.target))

    # -- the virtualenv -------------------------------------------------------------------------

    def _fingerprint(self) -> str:
        options = self.options
        if options.package is None:
            return source_fingerprint(self.source)
        wheels = ""
        if options.wheels is not None and options.wheels.is_dir():
            wheels = ",".join(sorted(p.name for p in options.wheels.iterdir()))
        return hashlib.sha256(f"{options.package}\0{wheels}".encode()).hexdigest()

    def install_venv(self) -> bool:
        venv = self.venv_dir
        shown = str(self.options.prefix / "venv")
        requirement = self.options.package or str(self.source)
        record = {"requirement": requirement, "fingerprint": self._fingerprint(),
                  "pip_args": list(self.options.pip_args)}
        marker = venv / FINGERPRINT_FILE
        python = venv / "bin" / "python"
        try:
            current = json.loads(marker.read_text())
        except (OSError, ValueError):
            current = None
        if current == record and python.exists() and (venv / "bin" / "smsgw").exists():
            self._record(Step(Action.UNCHANGED, shown, "package unchanged"))
            return False
        action = Action.UPDATED if python.exists() else Action.CREATED
        if self.options.dry_run:
            self._record(Step(action, shown, f"would pip install {requirement}"))
            return True
        if not python.exists():
            self._check(["python -m venv", shown],
                        self.runner([self.options.python, "-m", "venv", str(venv)]))
        with contextlib.ExitStack() as stack:
            target = requirement
            if self.options.package is None:
                # Build from a copy: a build in the checkout would leave build/ and egg-info
                # behind in it (and fail on a read-only one).
                target = str(stage_source(self.source, Path(stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="smsgw-build-")))))
            pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--upgrade"]
            if self.options.wheels is not None:
                pip += ["--no-index", "--find-links", str(self.options.wheels)]
            pip += [*self.options.pip_args, target]
            self._check(["pip install", requirement], self.runner(pip))
        marker.write_text(json.dumps(record, indent=2) + "\n")
        self._record(Step(action, shown, f"pip install {requirement}"))
        return True

    # -- applying the snippets ------------------------------------------------------------------

    def _root_flag(self) -> list[str]:
        return [] if self.on_system else [f"--root={self.options.root}"]

    def _can_apply_users(self) -> bool:
        return self.on_system or self.target("/etc/passwd").is_file()

    # A bare file name is looked up in (root)/etc/sysusers.d and friends; an absolute path
    # would be opened on the host even with --root.
    def apply_sysusers(self) -> None:
        if not self._can_apply_users():
            self._record(Step(Action.SKIPPED, "systemd-sysusers", "no etc/passwd under --root"))
            return
        self.run("create the service user",
                 ["systemd-sysusers", *self._root_flag(), "smsgw.conf"])

    def apply_tmpfiles(self) -> None:
        if not self._can_apply_users():
            self._record(Step(Action.SKIPPED, "systemd-tmpfiles", "no etc/passwd under --root"))
            return
        self.run("create directories, set the config file's mode",
                 ["systemd-tmpfiles", *self._root_flag(), "--create",
                  "smsgw.conf"])

    def reload_udev(self) -> None:
        if not self.on_system or not Path("/run/udev/control").exists():
            self._record(Step(Action.SKIPPED, "udevadm control --reload", "udevd not running"))
            return
        self.run("reload udev rules", ["udevadm", "control", "--reload"])
        self.run("apply them to plugged modems",
                 ["udevadm", "trigger", "--action=change", "--subsystem-match=usb",
                  "--subsystem-match=tty"])

    def reload_systemd(self) -> None:
        if not self.on_system or not Path("/run/systemd/system").is_dir():
            self._record(Step(Action.SKIPPED, "systemctl daemon-reload", "systemd not running"))
            return
        self.run("reload unit files", ["systemctl", "daemon-reload"])

    def run(self, purpose: str, argv: list[str]) -> None:
        shown = " ".join(argv)
        if self.options.dry_run:
            self._record(Step(Action.SKIPPED, shown, f"dry run: would {purpose}"))
            return
        if shutil.which(argv[0]) is None:
            self._record(Step(Action.SKIPPED, shown, f"{argv[0]} not found: {purpose} by hand"))
            return
        self._check([shown], self.runner(argv))
        self._record(Step(Action.RAN, shown, purpose))

    def _check(self, what: Sequence[str], done: subprocess.CompletedProcess[str]) -> None:
        if done.returncode != 0:
            output = (done.stderr or done.stdout or "").strip().splitlines()[-5:]
            raise InstallError(
                f"{' '.join(what)} failed (exit {done.returncode}): {' / '.join(output)}"
            )

    def _record(self, step: Step) -> Step:
        self.steps.append(step)
        return step


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write beside the target, flush, then rename: readers see the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise


__all__ = [
    "FILES",
    "Action",
    "InstallError",
    "InstallFile",
    "InstallOptions",
    "Installer",
    "Step",
    "find_source",
    "run_command",
    "source_files",
    "source_fingerprint",
    "stage_source",
    "write_atomic",
]

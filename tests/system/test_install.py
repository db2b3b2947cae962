"""`smsgw install --root TMP`: the layout, the service user made by the real systemd-sysusers and
systemd-tmpfiles inside TMP, idempotence (a second run changes no file), the admin's config left
alone, and nothing enabled or started unless asked."""

from __future__ import annotations

import os
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from gateway.install import (
    Action,
    Installer,
    InstallError,
    InstallOptions,
    Step,
    run_command,
    source_fingerprint,
    stage_source,
)

REPO = Path(__file__).resolve().parents[2]
PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
)
GROUP = "root:x:0:\ndialout:x:20:\nnogroup:x:65534:\n"


class Spy:
    """Runs the real command and remembers it (so a test can say what was never run)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        return run_command(argv)

    def ran(self, program: str) -> list[list[str]]:
        return [c for c in self.calls if os.path.basename(c[0]) == program]


def os_root(tmp_path: Path) -> Path:
    """A directory that looks like a minimal OS: /etc/passwd and /etc/group with dialout."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    return root


def snapshot(root: Path) -> dict[str, tuple[str, int, int, int, bytes | str]]:
    """path -> (kind, mode, uid, gid, content or link target); directories included."""
    tree: dict[str, tuple[str, int, int, int, bytes | str]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if path.is_symlink():
            tree[rel] = ("link", st.st_mode, st.st_uid, st.st_gid, os.readlink(path))
        elif path.is_dir():
            tree[rel] = ("dir", st.st_mode, st.st_uid, st.st_gid, "")
        else:
            tree[rel] = ("file", st.st_mode, st.st_uid, st.st_gid, path.read_bytes())
    return tree


def install(root: Path, spy: Spy | None = None, **options: object) -> list[Step]:
    opts = InstallOptions(root=root, source=REPO, **{"venv": False, **options})  # type: ignore[arg-type]
    return Installer(opts, runner=spy or Spy()).install()


def _uid(root: Path, name: str) -> int:
    for line in (root / "etc" / "passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2])
    raise AssertionError(f"no {name} in {root}/etc/passwd")


def test_install_lays_out_the_files_and_creates_the_user(tmp_path: Path) -> None:
    root = os_root(tmp_path)
    spy = Spy()
    steps = install(root, spy)
    created = {s.what for s in steps if s.action is Action.CREATED}
    assert created == {
        "/etc/systemd/system/smsgw.service", "/etc/udev/rules.d/99-smsgw.rules",
        "/etc/sysusers.d/smsgw.conf", "/etc/tmpfiles.d/smsgw.conf",
        "/etc/smsgw/smsgw.toml.example", "/etc/smsgw/smsgw.toml", "/opt/smsgw/README.md",
    }
    unit = (root / "etc/systemd/system/smsgw.service").read_text()
    assert "ExecStart=/opt/smsgw/venv/bin/smsgw run --config /etc/smsgw/smsgw.toml" in unit
    assert (root / "etc/smsgw/smsgw.toml").read_bytes() == (
        REPO / "systemd/smsgw.toml.example").read_bytes()
    # systemd-sysusers made the user, in dialout; systemd-tmpfiles made its state directory
    # and handed it the config file
    uid = _uid(root, "smsgw")
    assert any(line.startswith("dialout:") and "smsgw" in line
               for line in (root / "etc/group").read_text().splitlines())
    state = (root / "var/lib/smsgw").stat()
    assert (state.st_uid, state.st_mode & 0o7777) == (uid, 0o700)
    config = (root / "etc/smsgw/smsgw.toml").stat()
    assert (config.st_uid, config.st_gid, config.st_mode & 0o777) == (0, uid, 0o640)
    assert spy.ran("systemd-sysusers") and spy.ran("systemd-tmpfiles")


def test_a_second_install_changes_nothing_and_starts_nothing(tmp_path: Path) -> None:
    root = os_root(tmp_path)
    first = Spy()
    install(root, first)
    before = snapshot(root)
    second = Spy()
    steps = install(root, second)
    assert snapshot(root) == before
    assert {s.action for s in steps} <= {Action.UNCHANGED, Action.KEPT, Action.RAN,
                                        Action.SKIPPED}
    for spy in (first, second):
        assert spy.ran("systemctl") == [] and spy.ran("udevadm") == []
    assert not (root / "etc/systemd/system/multi-user.target.wants").exists()


def test_the_admins_config_is_never_overwritten_but_the_example_is_updated(
    tmp_path: Path,
) -> None:
    root = os_root(tmp_path)
    install(root)
    mine = '[server]\nlisten = "0.0.0.0:8080"\n'
    (root / "etc/smsgw/smsgw.toml").write_text(mine)
    (root / "etc/smsgw/smsgw.toml.example").write_text("# stale\n")
    steps = {s.what: s.action for s in install(root)}
    assert steps["/etc/smsgw/smsgw.toml"] is Action.KEPT
    assert steps["/etc/smsgw/smsgw.toml.example"] is Action.UPDATED
    assert (root / "etc/smsgw/smsgw.toml").read_text() == mine
    assert (root / "etc/smsgw/smsgw.toml.example").read_bytes() == (
        REPO / "systemd/smsgw.toml.example").read_bytes()


def test_enable_links_the_unit_and_still_starts_nothing(tmp_path: Path) -> None:
    root = os_root(tmp_path)
    spy = Spy()
    install(root, spy, enable=True, prefix=Path("/srv/sms"))
    link = root / "etc/systemd/system/multi-user.target.wants/smsgw.service"
    assert os.readlink(link) == "/etc/systemd/system/smsgw.service"
    assert [c[1:] for c in spy.ran("systemctl")] == [[f"--root={root}", "enable", "smsgw.service"]]
    unit = (root / "etc/systemd/system/smsgw.service").read_text()
    assert "ExecStart=/srv/sms/venv/bin/smsgw run" in unit and "/opt/smsgw" not in unit
    before = snapshot(root)
    install(root, enable=True, prefix=Path("/srv/sms"))
    assert snapshot(root) == before


def test_start_is_refused_outside_the_running_system(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="--start"):
        install(os_root(tmp_path), start=True)


def test_a_bare_directory_gets_the_files_and_a_note_about_the_user(tmp_path: Path) -> None:
    root = tmp_path / "image"
    root.mkdir()
    steps = install(root)
    skipped = {s.what for s in steps if s.action is Action.SKIPPED}
    assert {"systemd-sysusers", "systemd-tmpfiles"} <= skipped
    assert (root / "etc/udev/rules.d/99-smsgw.rules").is_file()


def _fixture_wheel(directory: Path) -> Path:
    """A minimal wheel with a `smsgw` console script: what the venv step installs offline."""
    wheel = directory / "smsgwfixture-1.0-py3-none-any.whl"
    info = "smsgwfixture-1.0.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("smsgwfixture.py", "def main() -> int:\n    print('fixture')\n"
                         "    return 0\n")
        archive.writestr(f"{info}/METADATA",
                         "Metadata-Version: 2.1\nName: smsgwfixture\nVersion: 1.0\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\n"
                         "Root-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{info}/entry_points.txt",
                         "[console_scripts]\nsmsgw = smsgwfixture:main\n")
        archive.writestr(f"{info}/RECORD", "")
    return wheel


def test_the_venv_is_built_once_and_kept_while_the_package_is_the_same(tmp_path: Path) -> None:
    root = os_root(tmp_path)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _fixture_wheel(wheels)
    spy = Spy()
    steps = install(root, spy, venv=True, package="smsgwfixture", wheels=wheels)
    venv = {s.what: s for s in steps}["/opt/smsgw/venv"]
    assert venv.action is Action.CREATED
    script = root / "opt/smsgw/venv/bin/smsgw"
    assert subprocess.run([str(script)], capture_output=True, text=True,
                          check=True).stdout == "fixture\n"
    before = snapshot(root / "opt/smsgw/venv")
    again = Spy()
    steps = install(root, again, venv=True, package="smsgwfixture", wheels=wheels)
    assert {s.what: s for s in steps}["/opt/smsgw/venv"].action is Action.UNCHANGED
    assert not [c for c in again.calls if "pip" in c or "venv" in c]
    assert snapshot(root / "opt/smsgw/venv") == before


def test_the_source_fingerprint_follows_the_package_sources(tmp_path: Path) -> None:
    staged = stage_source(REPO, tmp_path / "src")
    assert (staged / "pyproject.toml").is_file() and (staged / "gateway/install.py").is_file()
    assert not list(staged.rglob("__pycache__")) and not (staged / "tests").exists()
    assert source_fingerprint(staged) == source_fingerprint(REPO)
    (staged / "gateway/install.py").write_text("# changed\n")
    assert source_fingerprint(staged) != source_fingerprint(REPO)

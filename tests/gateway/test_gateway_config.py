"""Configuration: file + SMSGW_* environment + flags, validated once; `smsgw config check`."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gateway import cli_config
from gateway.config import (
    ConfigError,
    LaneMode,
    add_config_arguments,
    load_config,
    load_from_args,
)
from gateway.store import UncertainPolicy

FULL = """
[server]
listen = "0.0.0.0:8443"
tls_cert = "/etc/smsgw/cert.pem"
tls_key = "/etc/smsgw/key.pem"

[store]
path = "/var/lib/smsgw/smsgw.db"

[numbers]
default_region = "gb"
allow_short_codes = true

[scheduler]
lanes = "weighted"
uncertain_policy = "fail"
lane_weights = { otp = 10, bulk = 1 }
retry = { max_attempts = 3, backoff_initial_s = 2 }

[[modems]]
path = "/dev/serial/by-id/usb-Quectel*-if02*"
name = "q1"
group = "uk"
limits = { per_minute = 6, per_day = 500, unique_recipients_per_month = 200 }

[[routing]]
prefix = "+44"
group = "uk"

[[routing]]
carrier = "Vodafone"
group = "voda"
fallback = false

[sim]
count = 4

[logging]
level = "debug"
format = "json"
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("SMSGW_") or name == "STATE_DIRECTORY":
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "smsgw.toml"
    path.write_text(text)
    return path


def test_full_file(tmp_path: Path) -> None:
    s = load_config(write(tmp_path, FULL))
    assert (s.server.host, s.server.port, s.server.loopback_only) == ("0.0.0.0", 8443, False)
    assert s.numbers.default_region == "GB"
    assert s.scheduler.lanes is LaneMode.WEIGHTED and s.scheduler.lane_weights.otp == 10
    assert s.scheduler.uncertain_policy is UncertainPolicy.FAIL
    assert s.modems[0].is_glob and s.modems[0].limits.per_day == 500
    assert s.routing[0].prefix == ["+44"] and not s.routing[1].fallback
    assert s.db_path == Path("/var/lib/smsgw/smsgw.db")
    assert s.store_options().uncertain_policy is UncertainPolicy.FAIL


def test_defaults_use_the_state_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_config(None, use_default_file=False).db_path == Path("var/smsgw.db")
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/smsgw:/other")
    s = load_config(None, use_default_file=False)
    assert s.db_path == Path("/var/lib/smsgw/smsgw.db")
    assert s.server.listen == "127.0.0.1:8080" and s.server.loopback_only


def test_precedence_flags_over_env_over_file(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[server]\nlisten = "127.0.0.1:1"\n[numbers]\ndefault_region = "FR"\n')
    monkeypatch.setenv("SMSGW_SERVER__LISTEN", "127.0.0.1:2")
    monkeypatch.setenv("SMSGW_MODEMS", '[{"path": "/dev/ttyUSB2", "name": "env"}]')
    s = load_config(path)
    assert s.server.listen == "127.0.0.1:2" and s.numbers.default_region == "FR"
    assert s.modems[0].name == "env"
    s = load_config(path, overrides={"server": {"listen": "127.0.0.1:3"}})
    assert s.server.listen == "127.0.0.1:3"


def test_unknown_keys_are_named_with_their_source(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[server]\nlisten = "127.0.0.1:1"\nlisen = 1\n[typo]\nx = 1\n')
    monkeypatch.setenv("SMSGW_NUMBERS__DEFAULT_REGON", "GB")
    monkeypatch.setenv("SMSGW_BOGUS", "1")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    issues = {i.key: i for i in caught.value.issues}
    assert issues["server.lisen"].message == "unknown key"
    assert str(path) in issues["server.lisen"].source
    assert "typo" in issues
    assert issues["numbers.default_regon"].source == "environment SMSGW_NUMBERS__DEFAULT_REGON"
    assert issues["bogus"].source == "environment SMSGW_BOGUS"


def test_bad_values_are_reported_by_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[server]\nlisten = "nowhere"\ntls_cert = "/c"\n'
        '[numbers]\ndefault_region = "XX"\n'
        '[scheduler]\nuncertain_policy = "maybe"\n'
        '[[modems]]\npath = "/dev/a"\nlimits = { per_day = 0 }\n'
        '[[routing]]\ngroup = "uk"\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    keys = {i.key for i in caught.value.issues}
    assert {
        "server.listen",
        "numbers.default_region",
        "scheduler.uncertain_policy",
        "modems[0].limits.per_day",
        "routing[0]",
    } <= keys


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[server\n"))
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml")


def test_shared_flags(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    parser.add_argument("--listen")
    parser.add_argument("--modem", action="append")
    parser.add_argument("--sim", type=int)
    args = parser.parse_args(
        [
            "--config",
            str(write(tmp_path, FULL)),
            "--db",
            str(tmp_path / "x.db"),
            "--sim",
            "2",
            "--modem",
            "/dev/ttyUSB0",
            "--listen",
            "127.0.0.1:9000",
        ]
    )
    s = load_from_args(args)
    assert s.db_path == tmp_path / "x.db" and s.sim.count == 2
    assert [m.path for m in s.modems] == ["/dev/ttyUSB0"] and s.server.port == 9000


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli_config.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_config_check_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(["config", "check", str(write(tmp_path, FULL))]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "modem: q1" in out and "route: +44 -> uk" in out


def test_config_check_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSGW_SCHEDULER__NOPE", "1")
    path = write(tmp_path, "[server]\nport = 80\n")
    assert _cli(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "server.port: unknown key" in err and "scheduler.nope" in err


def test_config_show_prints_effective_json(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert _cli(["config", "show", "--config", str(write(tmp_path, FULL))]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sim"]["count"] == 4 and data["modems"][0]["group"] == "uk"

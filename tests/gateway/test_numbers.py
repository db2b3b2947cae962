"""Offline number look-ups, learned reachability, and `smsgw number`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway import cli_number
from gateway.numbers import (
    NumberPolicy,
    NumberService,
    NumberType,
    lookup,
    reachability_from_error,
    redact_number,
)
from gateway.store import Reachability, SqliteStore
from tests.gateway.gwhelpers import FakeClock

GB = NumberPolicy(default_region="GB")


@pytest.mark.parametrize(
    ("raw", "e164", "kind"),
    [
        ("+447911123456", "+447911123456", NumberType.MOBILE),
        ("07911 123456", "+447911123456", NumberType.MOBILE),
        ("0044 (7911) 123-456", "+447911123456", NumberType.MOBILE),
        ("+1 650 253 0000", "+16502530000", NumberType.FIXED_LINE_OR_MOBILE),
    ],
)
def test_valid_numbers_normalise_to_e164(raw: str, e164: str, kind: NumberType) -> None:
    result = lookup(raw, GB)
    assert result.e164 == e164 and result.valid and result.number_type is kind
    assert result.can_receive_sms and result.reason == "ok"


def test_mobile_details() -> None:
    result = lookup("+447911123456", NumberPolicy())
    assert result.country_code == 44 and result.region == "GG"
    assert result.carrier == "JT" and "Europe/London" in result.time_zones


@pytest.mark.parametrize(
    ("raw", "policy", "reason"),
    [
        ("+442079460000", GB, "fixed line number cannot receive SMS"),
        ("+448001234567", GB, "toll free"),
        ("+4412", GB, "impossible number"),
        ("+44791112", GB, "not a valid number"),
        ("banana", GB, "not a phone number"),
        ("07911123456", NumberPolicy(), "no country code"),
        ("", GB, "empty number"),
    ],
)
def test_numbers_that_cannot_receive_sms(raw: str, policy: NumberPolicy, reason: str) -> None:
    result = lookup(raw, policy)
    assert not result.can_receive_sms and reason in result.reason


def test_fixed_line_allowed_by_config() -> None:
    policy = NumberPolicy(default_region="GB", allow_fixed_line=True)
    assert lookup("+442079460000", policy).can_receive_sms


def test_short_codes_follow_the_config() -> None:
    refused = lookup("88088", GB)
    assert refused.short_code and not refused.can_receive_sms and "short codes" in refused.reason
    allowed = lookup("88088", NumberPolicy(default_region="GB", allow_short_codes=True))
    assert allowed.can_receive_sms and allowed.e164 == "88088"
    assert allowed.number_type is NumberType.SHORT_CODE


def test_error_codes_teach_reachability() -> None:
    assert reachability_from_error("CMS 30") == (
        Reachability.INVALID,
        "+CMS ERROR 30: unknown subscriber",
    )
    assert reachability_from_error("CMS 27")[0] is Reachability.ABSENT  # type: ignore[index]
    assert reachability_from_error("CMS 42") is None
    assert reachability_from_error(None) is None


def test_redaction_keeps_only_prefix_and_tail() -> None:
    assert redact_number("+447911123456") == "+447*******56"
    assert "7911123" not in redact_number("07911123456")


async def test_learned_reachability_from_the_store(store: SqliteStore,
                                                   clock: FakeClock) -> None:
    service = NumberService(GB, store)
    assert (await service.lookup("07911123456")).reachability is None
    await store.learn_reachability("+447911123456", Reachability.INVALID, "CMS 30")
    invalid = await service.lookup("07911123456")
    assert not invalid.can_receive_sms and invalid.reachability is Reachability.INVALID
    await store.learn_reachability("+447911123456", Reachability.ABSENT, "TP-ST 0x62")
    absent = await service.lookup("07911123456")
    assert absent.can_receive_sms and "absent" in absent.reason
    clock.advance(7 * 3600)  # absent is forgotten after absent_ttl (6 h)
    assert (await service.lookup("07911123456")).reachability is None


def test_cli_prints_json(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMSGW_CONFIG", raising=False)
    config = tmp_path / "smsgw.toml"
    config.write_text('[numbers]\ndefault_region = "GB"\n')
    import argparse

    parser = argparse.ArgumentParser()
    cli_number.register(parser.add_subparsers())
    args = parser.parse_args(
        ["number", "07911 123456", "--config", str(config), "--db", str(tmp_path / "none.db")]
    )
    assert args.func(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["e164"] == "+447911123456" and data["number_type"] == "mobile"
    args = parser.parse_args(["number", "+442079460000", "--config", str(config), "--no-db"])
    assert args.func(args) == 1
    assert json.loads(capsys.readouterr().out)["can_receive_sms"] is False


_RUN_NUMBER_CLI = """
import argparse, sys
from gateway import cli_number
parser = argparse.ArgumentParser()
cli_number.register(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


async def test_cli_reads_learned_reachability_beside_a_running_store(
    store: SqliteStore, db_path: Path, clock: FakeClock
) -> None:
    clock.now = datetime.now(UTC)  # the CLI reads with the real clock
    await store.learn_reachability("+447911123456", Reachability.INVALID, "CMS 1: unassigned")
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGW_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _RUN_NUMBER_CLI,
        "number",
        "+447911123456",
        "--db",
        str(db_path),
        stdout=asyncio.subprocess.PIPE,
        cwd=root,
        env={**env, "PYTHONPATH": str(root)},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1  # the daemon's store stays open and locked meanwhile
    data = json.loads(out)
    assert data["reachability"] == "invalid" and "unassigned" in data["reason"]

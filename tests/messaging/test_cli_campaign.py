"""`smsgw campaign create FILE --template NAME` against a running gateway: the per-row report
and the progress bar until every accepted message is delivered."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.cli_campaign import bar, register
from gateway.messaging.config import MessagingConfig, TemplateConfig
from tests.messaging.e2erig import MessagingE2E

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[MessagingE2E]:
    rig = MessagingE2E(tmp_path)
    try:
        yield await rig.start(MessagingConfig(templates=[
            TemplateConfig(name="note", text="Hi {name}, your order is ready.")]), modems=2)
    finally:
        await rig.close()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="smsgw")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    return parser.parse_args(argv)


async def test_create_prints_the_report_and_follows_to_the_end(
        gw: MessagingE2E, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "key"
    key.write_text(gw.key)
    csv = tmp_path / "orders.csv"
    csv.write_text("number,name\n+4915112340001,Ann\n+4915112340002,\nxyz,Carl\n"
                   "+4915112340003,Dora\n")
    common = ["--url", gw.url, "--key-file", str(key)]
    args = parse(["campaign", "create", str(csv), "--template", "note", *common])
    status = await asyncio.to_thread(args.func, args)
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "2 of 4 recipients queued, 2 refused" in out
    assert "row 2: missing_field: missing field: name" in out
    assert "row 3: invalid_number" in out
    assert err.strip().splitlines()[-1].startswith("[" + "#" * 30 + "] 2/2")
    assert gw.handset_texts("+4915112340001") == ["Hi Ann, your order is ready."]
    campaign_id = out.split()[1]
    args = parse(["campaign", "status", campaign_id, *common])
    assert await asyncio.to_thread(args.func, args) == 0
    assert "[completed]" in capsys.readouterr().out
    args = parse(["campaign", "pause", campaign_id, *common])
    assert await asyncio.to_thread(args.func, args) == 1
    assert "cannot pause a campaign that is completed" in capsys.readouterr().err


def test_the_bar() -> None:
    line = bar({"delivered": 5, "failed": 1, "sent": 2, "queued": 2}, 10, width=10)
    assert line.startswith("[######==..] 6/10")

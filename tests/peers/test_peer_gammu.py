"""Debian's gammu, an independent AT client, identifies, sends through and reads a sim modem.

Never skipped: a missing gammu is a failed setup (`make system-deps` installs it).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sim.pool import SimPool

GAMMU_TIMEOUT = 60.0
HANDSET = "+4915112345678"


def gammu_binary() -> str:
    path = shutil.which("gammu")
    assert path, "gammu is not installed: run `make system-deps` (apt-get install gammu)"
    return path


def _log_tail(config: Path) -> str:
    for line in config.read_text().splitlines():
        if line.startswith("logfile = "):
            log = Path(line.removeprefix("logfile = "))
            return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    return "(no log configured)"


async def gammu(config: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        gammu_binary(), "-c", str(config), *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), GAMMU_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        hung = f"gammu {' '.join(args)} hung; its log:\n{_log_tail(config)}"
        raise AssertionError(hung) from None
    text = out.decode("utf-8", "replace")
    assert proc.returncode == 0, f"gammu {' '.join(args)} failed ({proc.returncode}):\n{text}"
    return text


@pytest.fixture
async def sim800(tmp_path: Path) -> AsyncIterator[tuple[SimPool, Path]]:
    async with SimPool(1, tmp_path / "dev", profile="sim800", report_delay=0.0,
                       vendor_urc_interval=0.0, boot_time=0.05) as pool:
        config = tmp_path / "gammurc"
        config.write_text(
            f"[gammu]\ndevice = {pool.paths[0]}\nconnection = at\n"
            f"logfile = {tmp_path / 'gammu.log'}\nlogformat = textall\n"
        )
        yield pool, config


async def test_gammu_identifies_the_modem(sim800: tuple[SimPool, Path]) -> None:
    pool, config = sim800
    modem = pool.modem(0)
    out = await gammu(config, "identify")
    assert f"IMEI                 : {modem.imei}" in out
    assert f"SIM IMSI             : {modem.sim.imsi}" in out
    assert "SIMCOM_Ltd" in out
    assert "SIM800" in out


async def test_gammu_sends_sms_that_arrives_at_the_handset(
    sim800: tuple[SimPool, Path],
) -> None:
    pool, config = sim800
    text = "Grüße from gammu, 50% off! ✓"
    await gammu(config, "sendsms", "TEXT", HANDSET, "-unicode", "-text", text)
    received = pool.net.handsets[HANDSET].received
    assert [m.text for m in received] == [text]
    assert received[0].sender == pool.modem(0).sim.msisdn
    assert pool.modem(0).counters.submitted == 1


async def test_gammu_sends_a_long_message_in_parts(sim800: tuple[SimPool, Path]) -> None:
    pool, config = sim800
    text = "This message is long enough to need two parts. " * 5
    await gammu(config, "sendsms", "TEXT", HANDSET, "-len", str(len(text)), "-text", text)
    (message,) = pool.net.handsets[HANDSET].received
    assert message.total == 2 and message.complete
    assert message.text == text


async def test_gammu_reads_an_sms_injected_from_a_handset(sim800: tuple[SimPool, Path]) -> None:
    pool, config = sim800
    pool.net.send_from_handset(HANDSET, pool.modem(0).sim.msisdn, "YES, count me in 🙂")
    out = await gammu(config, "getallsms")
    assert "YES, count me in 🙂" in out
    assert f'Remote number        : "{HANDSET}"' in out
    assert "1 SMS parts in 1 SMS sequences" in out


async def test_gammu_works_with_every_dialect(tmp_path: Path) -> None:
    """gammu's whole init (vendor detection included: it needs ^PORTSEL on Huawei) and a USSD
    query on all five dialects at once; USSD coding differs per vendor (Huawei packs GSM-7 into
    hex, SIM7600 answers UCS-2 hex, the others plain text)."""
    # Periodic vendor URCs are off here and on in the Huawei test below: each gammu getussd
    # takes ~15 s by itself (after the answer it waits ~11 s for follow-up USSD messages, as
    # its log's timestamps show), which an earlier, shorter deadline mistook for a hang.
    async with SimPool(5, tmp_path / "dev", profile="mixed", report_delay=0.0,
                       vendor_urc_interval=0.0, boot_time=0.05) as pool:

        async def check(index: int) -> None:
            modem = pool.modem(index)
            config = tmp_path / f"gammurc{index}"
            config.write_text(f"[gammu]\ndevice = {pool.paths[index]}\nconnection = at\n"
                              f"logfile = {tmp_path / f'gammu{index}.log'}\nlogformat = textall\n")
            out = await gammu(config, "getussd", "*135#")
            assert f'Service reply        : "Your number is {modem.sim.msisdn}"' in out, (
                modem.dialect.name, out)

        await asyncio.gather(*(check(i) for i in range(5)))


async def test_gammu_ussd_on_huawei_while_vendor_urcs_keep_coming(tmp_path: Path) -> None:
    """The E3372 floods ^RSSI/^HCSQ until ^CURC=0 (gammu sends it during its init): gammu's
    USSD query must still get its answer with those URCs arriving around it."""
    async with SimPool(1, tmp_path / "dev", profile="e3372", report_delay=0.0,
                       vendor_urc_interval=0.5, boot_time=0.05) as pool:
        config = tmp_path / "gammurc"
        config.write_text(f"[gammu]\ndevice = {pool.paths[0]}\nconnection = at\n"
                          f"logfile = {tmp_path / 'gammu.log'}\nlogformat = textalldate\n")
        out = await gammu(config, "getussd", "*135#")
        assert f'Service reply        : "Your number is {pool.modem(0).sim.msisdn}"' in out
        assert pool.modem(0).settings.curc == 0  # gammu switched the flood off

"""How `smsgw run` turns configuration and flags into supervision timings."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from gateway.cli import build_parser
from gateway.cli_run import runtime_options
from gateway.modem_status import PoolOptions
from tests.e2e.e2e_rig import e2e_settings


def test_simulated_modems_get_short_deadlines_and_latency_keeps_submits_long(
    tmp_path: Path,
) -> None:
    settings = e2e_settings(tmp_path / "db", sim={"count": 2})
    args = build_parser().parse_args(["run", "--sim", "2"])
    quick = runtime_options(settings, args)
    assert quick.pool.modem.command_timeout < PoolOptions().modem.command_timeout
    assert not quick.sim.separate_process and quick.sim.latency == "0"
    args = build_parser().parse_args(
        ["run", "--sim", "2", "--sim-process", "--sim-latency", "realistic"]
    )
    slow = runtime_options(settings, args)
    assert slow.sim.separate_process and slow.sim.latency == "realistic"
    assert slow.pool.modem.submit_timeout == 180.0  # the long tail must not look like a hang


def test_a_pool_section_overrides_the_timings() -> None:
    section = SimpleNamespace(health_interval_s=7, quarantine_max_s=90.0, shutdown_grace_s=3)
    options = PoolOptions.from_config(section)
    assert (options.health_interval, options.quarantine_max) == (7.0, 90.0)
    assert options.scan_interval == PoolOptions().scan_interval  # absent keys keep defaults

"""Thresholds: when each alert is raised, when it recovers, and what it ignores."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from gateway.health import AlertChange, AlertEvaluator, AlertKind, AlertThresholds, Reading

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
OK = Reading(modem_id="m0", state="ready", sim_state="ready", registration=1, signal_dbm=-70,
             storage_used=2, storage_total=30, balance=Decimal("20"), attempts=10, errors=0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def kinds(changes: list[AlertChange]) -> list[tuple[str, bool]]:
    return [(c.alert.kind.value, c.raised) for c in changes]


def evaluator(**thresholds: object) -> AlertEvaluator:
    return AlertEvaluator(AlertThresholds.model_validate({"raise_after_s": 0, **thresholds}))


def test_a_healthy_modem_raises_nothing() -> None:
    e = evaluator(balance_min=5)
    assert e.update(OK, T0) == []
    assert e.active == []


def test_weak_signal_raises_at_the_threshold_and_recovers_above_the_hysteresis() -> None:
    e = evaluator(weak_signal_dbm=-100, signal_hysteresis_db=4)
    assert e.update(replace(OK, signal_dbm=-99), at(0)) == []
    raised = e.update(replace(OK, signal_dbm=-100), at(1))
    assert kinds(raised) == [("weak_signal", True)]
    assert raised[0].alert.value == "-100 dBm" and raised[0].alert.threshold == "-100 dBm"
    assert e.update(replace(OK, signal_dbm=-97), at(2)) == []  # inside the hysteresis: still weak
    assert kinds(e.update(replace(OK, signal_dbm=-95), at(3))) == [("weak_signal", False)]


def test_a_condition_must_hold_before_it_alerts() -> None:
    e = evaluator(raise_after_s=60)
    weak = replace(OK, signal_dbm=-110)
    assert e.update(weak, at(0)) == []
    assert e.update(weak, at(59)) == []
    assert e.update(replace(OK, signal_dbm=-80), at(60)) == []  # a flap: forgotten
    assert e.update(weak, at(61)) == []
    assert kinds(e.update(weak, at(121))) == [("weak_signal", True)]


def test_registration_lost_only_when_the_sim_is_ready() -> None:
    e = evaluator()
    searching = replace(OK, registration=2, signal_dbm=None)
    assert kinds(e.update(searching, at(0))) == [("registration_lost", True)]
    assert kinds(e.update(replace(OK, registration=5), at(1))) == [("registration_lost", False)]
    # a missing SIM is its own alert, not also a registration alert
    pulled = replace(OK, sim_state="not_inserted", registration=0, signal_dbm=None)
    assert kinds(e.update(pulled, at(2))) == [("sim_missing", True)]


def test_sim_missing_and_locked_hold_while_the_port_is_closed() -> None:
    e = evaluator()
    assert kinds(e.update(replace(OK, sim_state="pin_required"), at(0))) == [("sim_locked", True)]
    # quarantined: the last poll is stale; the SIM alert stays, quarantine is raised
    closed = replace(OK, state="quarantined", sim_state=None, signal_dbm=None)
    assert kinds(e.update(closed, at(1))) == [("quarantined", True)]
    assert kinds(e.update(replace(OK, state="probing", sim_state=None), at(2))) == []
    assert sorted(kinds(e.update(OK, at(3)))) == [("quarantined", False), ("sim_locked", False)]


def test_storage_full_with_hysteresis() -> None:
    e = evaluator(storage_full_ratio=0.9)
    assert kinds(e.update(replace(OK, storage_used=27), at(0))) == [("storage_full", True)]
    assert e.update(replace(OK, storage_used=25), at(1)) == []  # 83 %: above 80 %, still full
    assert kinds(e.update(replace(OK, storage_used=20), at(2))) == [("storage_full", False)]
    assert e.update(replace(OK, storage_used=None, storage_total=None), at(3)) == []


def test_balance_under_its_minimum_and_off_without_one() -> None:
    e = evaluator(balance_min="5.00")
    assert kinds(e.update(replace(OK, balance=Decimal("4.99")), at(0))) == [("balance_low", True)]
    assert e.update(replace(OK, balance=None), at(1)) == []  # unknown: keep
    assert kinds(e.update(replace(OK, balance=Decimal("5")), at(2))) == [("balance_low", False)]
    assert evaluator().update(replace(OK, balance=Decimal("0")), at(3)) == []


def test_error_rate_needs_enough_attempts_and_recovers_at_half_the_rate() -> None:
    e = evaluator(error_rate=0.5, error_min_attempts=5)
    assert e.update(replace(OK, attempts=4, errors=4), at(0)) == []
    assert kinds(e.update(replace(OK, attempts=6, errors=3), at(1))) == [("error_rate_high", True)]
    assert e.update(replace(OK, attempts=10, errors=3), at(2)) == []  # 30 %: not under 25 %
    assert kinds(e.update(replace(OK, attempts=10, errors=2), at(3))) == [
        ("error_rate_high", False)]


def test_a_gone_modem_keeps_its_alerts_until_it_tells_otherwise() -> None:
    e = evaluator()
    e.update(replace(OK, signal_dbm=-111), at(0))
    gone = Reading(modem_id="m0", state="gone")
    assert e.update(gone, at(1)) == []
    assert [a.kind for a in e.active] == [AlertKind.WEAK_SIGNAL]


def test_restored_alerts_are_not_raised_again_and_still_recover() -> None:
    first = evaluator()
    (raised,) = first.update(replace(OK, sim_state="not_inserted"), at(0))
    second = evaluator()
    second.restore([raised.alert])
    assert second.update(replace(OK, sim_state="not_inserted"), at(10)) == []
    (recovered,) = second.update(OK, at(20))
    assert not recovered.raised and recovered.alert.raised_at == at(0)
    assert second.active_for("m0") == []

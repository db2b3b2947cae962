"""Balance answers as operators write them, and which code a SIM is asked."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from gateway.health import BalanceConfig, HealthConfig, balance_code, parse_balance

ANSWERS = [
    ("SimTel: Balance 12.34 EUR.", "12.34", "EUR"),  # the simulator's own answer
    ("Your balance is $5.20. Valid till 31/12/2024", "5.20", "$"),
    ("Aktuelles Guthaben: 4,99 EUR", "4.99", "EUR"),
    ("Ваш баланс 150,25 р.", "150.25", "RUB"),
    ("Saldo: 1.234,56 €. Bonus 2,00 €", "1234.56", "EUR"),
    ("Main Bal: Rs.45.50, Valid: 12-05-2025", "45.50", "INR"),
    ("Credit remaining: GBP 10.00", "10.00", "GBP"),
    ("Balance: -2.50 EUR", "-2.50", "EUR"),
    ("You have 120 min and 3.50 EUR left", "3.50", "EUR"),
    ("Dear customer, your balance on 12.05.2024 at 10:15 is 7.80 EUR", "7.80", "EUR"),
    ("Your balance for 30 days is 7.80 EUR", "7.80", "EUR"),
    ("Call *100# or +4915112345678 for help. Balance: 3,20 EUR", "3.20", "EUR"),
    ("Остаток: 35.00 грн", "35.00", "UAH"),
    ("Balance: 10 000,50 RUB", "10000.50", "RUB"),
    ("Guthaben 0,99€", "0.99", "EUR"),
    ("Balance 25", "25", None),
]


@pytest.mark.parametrize(("text", "amount", "currency"), ANSWERS)
def test_balance_answers_in_many_formats(text: str, amount: str, currency: str | None) -> None:
    found = parse_balance(text)
    assert found is not None, text
    assert found.amount == Decimal(amount)
    assert found.currency == currency


@pytest.mark.parametrize("text", [
    None, "", "Unknown application", "SimTel: postpaid tariff, no prepaid balance.",
    "Your number is +4915112345678", "Valid until 31.12.2025 23:59",
])
def test_answers_without_an_amount(text: str | None) -> None:
    assert parse_balance(text) is None


def test_a_configured_pattern_wins() -> None:
    pattern = r"Restguthaben (?P<amount>[\d,]+) (?P<currency>\w+)"
    found = parse_balance("Bonus 50,00 EUR. Restguthaben 3,10 EUR", pattern)
    assert found is not None and found.amount == Decimal("3.10") and found.currency == "EUR"
    assert parse_balance("Balance 5 EUR", pattern) is None


def test_balance_code_by_modem_iccid_operator_then_default() -> None:
    config = BalanceConfig(
        codes={"modem3": "*101#", "8949020000000000001": "*102#", "262-01": "*103#",
               "SimFone": "*104#"},
        default_code="*100#",
    )

    def code(**kwargs: str) -> str | None:
        return balance_code(config, **{"modem_id": "modem0", **kwargs})

    assert code(modem_id="modem3", iccid="8949020000000000001") == "*101#"
    assert code(iccid="8949020000000000001", operator_numeric="26201") == "*102#"
    assert code(operator_numeric="26201") == "*103#"
    assert code(operator_numeric="26202", operator_name="simfone") == "*104#"
    assert code(operator_numeric="26203") == "*100#"
    assert balance_code(BalanceConfig(), modem_id="modem0") is None


@pytest.mark.parametrize("section", [
    {"balance": {"default_code": "*100#; AT+CFUN=0"}},
    {"balance": {"codes": {"modem0": "*100# x"}}},
    {"balance": {"pattern": r"Balance (\d+)"}},  # no group named amount
    {"balance": {"pattern": "("}},
    {"alerts": {"weak_signal_dbm": -20}},
    {"alerts": {"unknown": 1}},
])
def test_bad_health_settings_are_refused(section: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HealthConfig.model_validate(section)

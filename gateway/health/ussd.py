"""A SIM's prepaid balance by USSD: which code to dial, and what the operator's answer says.

Operators answer in free text, in their own language and number format ("Balance 12.34 EUR.",
"Aktuelles Guthaben: 4,99 EUR", "Ваш баланс 150,25 р.", "Main Bal: Rs.45.50, Valid: 12-05-2025").
`parse_balance` takes the first amount after a balance keyword (else the first amount written
with a currency), after blanking out what only looks like an amount: dates, times, phone numbers
and service codes. A `pattern` from configuration overrides it for an operator it gets wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .config import BalanceConfig


@dataclass(frozen=True, slots=True)
class Balance:
    amount: Decimal
    currency: str | None


_KEYWORD = re.compile(
    r"balan[cs]e?|\bbal\b|credit|cr[ée]dito|saldo|guthaben|solde|kredit|bakiye|баланс|остаток"
    r"|на счету|余额",
    re.IGNORECASE,
)
_BLANK = (
    re.compile(r"\b\d{1,4}[./-]\d{1,2}[./-]\d{2,4}\b"),  # dates
    re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b"),  # times
    re.compile(r"[*#][0-9*#]*#"),  # service codes
    re.compile(r"\+?\d{7,}"),  # phone numbers and other long digit runs
)
_NUMBER = re.compile(
    r"(?<!\w)(?<!\d[.,])[-−]?\s?(?:\d{1,3}(?:[ \u00a0.,']\d{3})+|\d+)(?:[.,]\d{1,2})?(?![\w])"
)
_CURRENCIES: dict[str, str] = {
    "€": "EUR", "eur": "EUR", "euro": "EUR", "£": "GBP", "gbp": "GBP", "₹": "INR", "rs": "INR",
    "inr": "INR", "₽": "RUB", "руб": "RUB", "р": "RUB", "rub": "RUB", "грн": "UAH", "uah": "UAH",
    "₺": "TRY", "tl": "TRY", "zł": "PLN", "zl": "PLN", "pln": "PLN", "kč": "CZK", "czk": "CZK",
    "ft": "HUF", "huf": "HUF", "lei": "RON", "ron": "RON", "kr": "kr", "₦": "NGN", "ksh": "KES",
    "$": "$", "usd": "USD", "¥": "¥", "chf": "CHF", "fr": "CHF",
}
_ISO = (
    "EUR|USD|GBP|RUB|UAH|INR|PLN|CZK|HUF|RON|TRY|NGN|KES|CHF|SEK|NOK|DKK|AUD|CAD|NZD|ZAR|BRL|MXN"
    "|ARS|CLP|COP|PEN|IDR|MYR|PHP|THB|VND|PKR|BDT|LKR|EGP|MAD|TND|DZD|GHS|UGX|TZS|XOF|XAF|AED|SAR"
    "|QAR|KWD|BHD|OMR|JOD|ILS|GEL|AMD|AZN|KZT|UZS|KGS|BYN|MDL|RSD|BGN|ISK|JPY|CNY|KRW|HKD|SGD"
)
_CURRENCY = re.compile(
    r"[€£₹₽₺₦$¥]|\b(?:" + _ISO + r")\b"
    r"|(?i:\b(?:руб|грн|rs|zł|kč|ft|lei|kr|ksh|tl|euro|fr|р)(?!\w)\.?)"
)
_NEAR = 60  # characters between a keyword and its amount
_ADJACENT = 4  # characters between an amount and its currency


def _blank(text: str) -> str:
    for pattern in _BLANK:
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return text


def _decimal(raw: str) -> Decimal | None:
    text = raw.replace("−", "-").replace(" ", "").replace("\u00a0", "").replace("'", "")
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    last = max(text.rfind("."), text.rfind(","))
    if last >= 0 and len(text) - last - 1 in (1, 2):  # a decimal separator
        whole, fraction = text[:last], text[last + 1 :]
    else:  # thousands separators only
        whole, fraction = text, ""
    whole = whole.replace(".", "").replace(",", "")
    try:
        return Decimal(f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}")
    except InvalidOperation:
        return None


def _currency_near(text: str, start: int, end: int) -> str | None:
    after = _CURRENCY.match(text[end:].lstrip()[: _ADJACENT + 4])
    if after is not None and len(text[end:]) - len(text[end:].lstrip()) <= _ADJACENT:
        return _normal_currency(after.group(0))
    before = text[max(0, start - _ADJACENT - 4) : start].rstrip()
    for match in _CURRENCY.finditer(before):
        if match.end() == len(before):
            return _normal_currency(match.group(0))
    return None


def _normal_currency(token: str) -> str:
    word = token.rstrip(".").strip()
    return _CURRENCIES.get(word.lower(), word.upper())


@dataclass(frozen=True, slots=True)
class _Amount:
    start: int
    end: int
    value: Decimal
    currency: str | None


def _amounts(text: str) -> list[_Amount]:
    out: list[_Amount] = []
    for match in _NUMBER.finditer(text):
        value = _decimal(match.group(0))
        if value is not None:
            currency = _currency_near(text, match.start(), match.end())
            out.append(_Amount(match.start(), match.end(), value, currency))
    return out


def parse_balance(text: str | None, pattern: str | None = None) -> Balance | None:
    """The balance an operator's USSD answer states, or None when it states none."""
    if not text:
        return None
    if pattern is not None:
        match = re.search(pattern, text)
        if match is None:
            return None
        value = _decimal(match.group("amount"))
        currency = match.groupdict().get("currency")
        return None if value is None else Balance(value, currency or None)
    clean = _blank(text)
    amounts = _amounts(clean)
    if not amounts:
        return None
    keyword = _KEYWORD.search(clean)
    if keyword is not None:
        near = [a for a in amounts if 0 <= a.start - keyword.end() <= _NEAR]
        if near:
            chosen = next((a for a in near if a.currency), near[0])
            return Balance(chosen.value, chosen.currency)
    priced = [a for a in amounts if a.currency]
    if priced:
        return Balance(priced[0].value, priced[0].currency)
    return None


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def balance_code(
    config: BalanceConfig,
    *,
    modem_id: str,
    iccid: str | None = None,
    operator_numeric: str | None = None,
    operator_name: str | None = None,
) -> str | None:
    """The code to dial for this SIM: by modem id, ICCID, operator (MCC-MNC or name), default."""
    codes = config.codes
    if modem_id in codes:
        return codes[modem_id]
    if iccid and iccid in codes:
        return codes[iccid]
    if operator_numeric:
        wanted = _digits(operator_numeric)
        for key, code in codes.items():
            if _digits(key) == wanted and not key.strip("0123456789- "):
                return code
    if operator_name:
        for key, code in codes.items():
            if key.casefold() == operator_name.casefold():
                return code
    return config.default_code


__all__ = ["Balance", "balance_code", "parse_balance"]

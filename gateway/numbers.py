"""Offline, HLR-style number look-up: libphonenumber's metadata plus what our own sends taught us.

A real HLR query costs money and leaks the recipient to a third party; libphonenumber answers
most of the same questions offline (valid? mobile? which country, original carrier, time zones),
and delivery outcomes fill in the rest: an "unknown subscriber" error marks a number invalid for
a while, an absent subscriber means "try later". `lookup` is pure; `NumberService` adds the
learned part from the store. A number that cannot receive SMS is refused before anything is
queued, with `reason` saying why.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Protocol

import phonenumbers
from phonenumbers import PhoneNumberType, carrier, timezone

from gateway.libphonenumber_fast import number_type, parse_e164
from gateway.record import record
from gateway.store.models import LearnedReachability, Reachability


class NumberType(StrEnum):
    MOBILE = "mobile"
    FIXED_LINE = "fixed_line"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"
    TOLL_FREE = "toll_free"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    VOIP = "voip"
    PERSONAL_NUMBER = "personal_number"
    PAGER = "pager"
    UAN = "uan"
    VOICEMAIL = "voicemail"
    SHORT_CODE = "short_code"
    UNKNOWN = "unknown"


_TYPES = {
    PhoneNumberType.MOBILE: NumberType.MOBILE,
    PhoneNumberType.FIXED_LINE: NumberType.FIXED_LINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: NumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.TOLL_FREE: NumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE: NumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST: NumberType.SHARED_COST,
    PhoneNumberType.VOIP: NumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER: NumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER: NumberType.PAGER,
    PhoneNumberType.UAN: NumberType.UAN,
    PhoneNumberType.VOICEMAIL: NumberType.VOICEMAIL,
}

# Types that take SMS. FIXED_LINE_OR_MOBILE is how libphonenumber describes whole countries
# (the US, Canada) whose numbering does not tell the two apart.
_SMS_TYPES = frozenset(
    {
        NumberType.MOBILE,
        NumberType.FIXED_LINE_OR_MOBILE,
        NumberType.VOIP,
        NumberType.PERSONAL_NUMBER,
        NumberType.PAGER,
    }
)
_CLEAN = re.compile(r"[\s().\-/]")


@dataclass(frozen=True, slots=True)
class NumberPolicy:
    default_region: str | None = None
    allow_short_codes: bool = False
    allow_fixed_line: bool = False


@record
class NumberLookup:
    """`e164` is the form to send to (digits only for a short code), None when unparseable."""

    input: str
    e164: str | None
    valid: bool
    possible: bool
    number_type: NumberType
    region: str | None
    country_code: int | None
    carrier: str | None
    time_zones: tuple[str, ...]
    short_code: bool
    reachability: Reachability | None
    reachability_reason: str | None
    can_receive_sms: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["time_zones"] = list(self.time_zones)
        return data


def _refuse(text: str, reason: str, **known: Any) -> NumberLookup:
    base: dict[str, Any] = {
        "input": text,
        "e164": None,
        "valid": False,
        "possible": False,
        "number_type": NumberType.UNKNOWN,
        "region": None,
        "country_code": None,
        "carrier": None,
        "time_zones": (),
        "short_code": False,
        "reachability": None,
        "reachability_reason": None,
        "can_receive_sms": False,
        "reason": reason,
    }
    base.update(known)
    return NumberLookup(**base)


def _short_code(text: str, digits: str, policy: NumberPolicy) -> NumberLookup | None:
    if not digits.isdigit() or not 3 <= len(digits) <= 8:
        return None
    region = policy.default_region
    if region is not None:
        try:
            parsed = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_short_number_for_region(parsed, region):
            return None
    known = {
        "e164": digits,
        "valid": region is not None,
        "possible": True,
        "number_type": NumberType.SHORT_CODE,
        "region": region,
        "short_code": True,
    }
    if not policy.allow_short_codes:
        return _refuse(text, "short codes are not allowed (numbers.allow_short_codes)", **known)
    reason = "ok" if region else "short code (not checked: no numbers.default_region)"
    return _refuse(text, reason, can_receive_sms=True, **known)


def lookup(
    number: str, policy: NumberPolicy, learned: LearnedReachability | None = None
) -> NumberLookup:
    """Everything known about `number` without asking the network."""
    if learned is None:
        return _offline(number, policy)
    return _lookup(number, policy, learned)


# Campaigns and retries repeat numbers, and the API answers with the look-up the submit made:
# the pure part is cached (a NumberLookup is immutable, so sharing it is safe).
@functools.lru_cache(maxsize=16_384)
def _offline(number: str, policy: NumberPolicy) -> NumberLookup:
    return _lookup(number, policy, None)


def _kind_facts(parsed: phonenumbers.PhoneNumber) -> tuple[Any, bool, str | None, str | None,
                                                            tuple[str, ...]]:
    """libphonenumber's number type, validity, region, carrier and time zones with the type
    matched once: `is_valid_number`, `number_type`, `carrier.name_for_number` and
    `time_zones_for_number` each match it again (the regex work is most of a look-up)."""
    region = phonenumbers.region_code_for_number(parsed)
    ntype = number_type(parsed, region)
    # is_valid_number: the type is known for the number's own region (number_type uses the
    # same region and metadata, so an UNKNOWN type is exactly an invalid number)
    valid = region is not None and ntype != PhoneNumberType.UNKNOWN
    if not valid:
        return ntype, False, region, None, ()
    name = carrier.name_for_valid_number(parsed, "en") if carrier._is_mobile(ntype) else ""
    if phonenumbers.is_number_type_geographical(ntype, parsed.country_code or 0):
        zones = timezone.time_zones_for_geographical_number(parsed)
    else:
        zones = timezone._country_level_time_zones_for_number(parsed)
    return ntype, True, region, name or None, tuple(z for z in zones if z != "Etc/Unknown")


def _lookup(
    number: str, policy: NumberPolicy, learned: LearnedReachability | None
) -> NumberLookup:
    text = number.strip()
    cleaned = _CLEAN.sub("", text)
    if not cleaned:
        return _refuse(text, "empty number")
    if not cleaned.startswith(("+", "00")):
        short = _short_code(text, cleaned, policy)
        if short is not None:
            return short
        if policy.default_region is None:
            return _refuse(
                text,
                "no country code: write the number as +<country><number> or set default_region",
            )
    try:
        if cleaned[0] == "+":
            parsed = parse_e164(cleaned)
        else:
            parsed = phonenumbers.parse(cleaned, policy.default_region)
    except phonenumbers.NumberParseException as exc:
        return _refuse(text, f"not a phone number: {exc}")
    ntype, valid, region, carrier_name, zones = _kind_facts(parsed)
    # a valid number always has a possible length (tests/gateway/test_libphonenumber_fast.py
    # holds libphonenumber to that): only an invalid one needs asking
    possible = valid or phonenumbers.is_possible_number(parsed)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    kind = _TYPES.get(ntype, NumberType.UNKNOWN) if valid else NumberType.UNKNOWN
    ok = False
    if not valid:
        why = "not a valid number" if possible else "impossible number (wrong length)"
        reason = f"{why} for {region or 'its country code'}"
    elif kind not in _SMS_TYPES and not (kind is NumberType.FIXED_LINE and policy.allow_fixed_line):
        reason = f"a {kind.value.replace('_', ' ')} number cannot receive SMS"
    elif learned is not None and learned.state is Reachability.INVALID:
        reason = f"recently unreachable: {learned.reason}"
    else:
        ok = True
        reason = "ok"
        if learned is not None and learned.state is Reachability.ABSENT:
            reason = (f"accepted; recipient was recently absent ({learned.reason}):"
                      " delivery may be late")
    return NumberLookup(
        input=text,
        e164=e164,
        valid=valid,
        possible=possible,
        number_type=kind,
        region=region,
        country_code=parsed.country_code,
        carrier=carrier_name,
        time_zones=zones,
        short_code=False,
        reachability=None if learned is None else learned.state,
        reachability_reason=None if learned is None else learned.reason,
        can_receive_sms=ok,
        reason=reason,
    )


class _ReachabilityReader(Protocol):
    async def reachability(self, number: str) -> LearnedReachability | None: ...


class BatchLookups(Protocol):
    """Offline look-ups of a whole batch elsewhere (`gateway.lookup_pool.LookupPool`); None
    means "do them yourself"."""

    async def lookup(self, numbers: Sequence[str], policy: NumberPolicy
                     ) -> list[NumberLookup] | None: ...

    async def close(self) -> None: ...


class NumberService:
    """`lookup` plus learned reachability from the store (when one is given)."""

    def __init__(self, policy: NumberPolicy, store: _ReachabilityReader | None = None,
                 workers: BatchLookups | None = None) -> None:
        self.policy = policy
        self._store = store
        self.workers = workers  # look-ups of big batches in child processes (lookup_pool)

    @property
    def store(self) -> _ReachabilityReader | None:
        return self._store

    async def lookup(self, number: str) -> NumberLookup:
        first = lookup(number, self.policy)
        if self._store is None or first.e164 is None or first.short_code:
            return first
        learned = await self._store.reachability(first.e164)
        return first if learned is None else lookup(number, self.policy, learned)


# --- what send failures say about a number -------------------------------------------------

# +CMS codes on submit (TS 24.011 RP-cause values the modem passes through).
_INVALID_CMS = {1: "unassigned number", 28: "unidentified subscriber", 30: "unknown subscriber"}
_ABSENT_CMS = {27: "destination out of service"}


def reachability_from_error(error_code: str | None) -> tuple[Reachability, str] | None:
    """Map an error code as recorded by the scheduler (`"CMS 30"`) to what it says about the
    recipient, or None when it says nothing about them."""
    if error_code is None:
        return None
    match = re.fullmatch(r"CMS (\d+)", error_code)
    if match is None:
        return None
    code = int(match.group(1))
    if code in _INVALID_CMS:
        return Reachability.INVALID, f"+CMS ERROR {code}: {_INVALID_CMS[code]}"
    if code in _ABSENT_CMS:
        return Reachability.ABSENT, f"+CMS ERROR {code}: {_ABSENT_CMS[code]}"
    return None


def redact_number(number: str | None) -> str:
    """For logs: keep the country prefix and the last two digits (`+4479******56`)."""
    if not number:
        return "-"
    digits = len(number)
    if digits <= 4:
        return "*" * digits
    keep = 4 if number.startswith("+") else 2
    return number[:keep] + "*" * (digits - keep - 2) + number[-2:]


def policy_from_config(config: Any) -> NumberPolicy:
    """`NumbersConfig` -> NumberPolicy (kept loose so numbers.py does not import config)."""
    return NumberPolicy(
        default_region=config.default_region,
        allow_short_codes=config.allow_short_codes,
        allow_fixed_line=config.allow_fixed_line,
    )

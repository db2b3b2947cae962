"""libphonenumber's parse and number type at a fraction of the cost, with its exact answers.

Each look-up of a distinct number cost ~50 us, most of the API's time per message: `parse` is
written for anything a person might type, and `number_type` walks up to eleven descriptions,
each a Python call or two around a regular expression. Both are done here the same way with
less machinery, and `tests/gateway/test_libphonenumber_fast.py` holds them to libphonenumber's
own answers on every example number it ships and on random numbers after every calling code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType

# libphonenumber compiles its metadata patterns through `re`'s bounded cache unless told to
# keep them: with numbers from many countries that cache thrashes, and even with one it halves
# the cost of `number_type` (10.7 -> 4.9 us measured). The patterns are a fixed set.
_keep_patterns = getattr(phonenumbers, "enable_pattern_cache", None)
if _keep_patterns is not None:
    _keep_patterns()

E164 = re.compile(r"\+[1-9]\d{6,14}")  # the canonical form (use fullmatch)
_NO_PREFIX = re.compile(r"(?!)")  # matches nothing: a country without a national prefix
_NPP: dict[int, re.Pattern[str] | None] = {}  # country code -> national prefix for parsing


def _national_prefix(country_code: int) -> re.Pattern[str] | None:
    """The pattern libphonenumber strips after the country code (`_NO_PREFIX` when there is
    none), None when the country code has no metadata."""
    if country_code in _NPP:
        return _NPP[country_code]
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(
        country_code, phonenumbers.region_code_for_country_code(country_code))
    found = None if metadata is None else metadata.national_prefix_for_parsing
    pattern = None if metadata is None else re.compile(found) if found else _NO_PREFIX
    _NPP[country_code] = pattern
    return pattern


def parse_e164(text: str) -> phonenumbers.PhoneNumber:
    """`phonenumbers.parse(text)`, the same answer, at a tenth of the cost for text already in
    E.164 form (what API clients nearly always send).

    `parse` is written for anything a person might type: it looks for extensions, IDD
    prefixes and national prefixes, and takes ~20 us. For `+<country><number>` only two of
    its steps can change anything: finding the country code (calling codes are prefix-free,
    so the first match is the only one), and stripping a national prefix written after it
    (`+44 0 20...`, Argentina's `9`). Where the country's national-prefix pattern matches the
    start of the number, this hands the text to `parse` itself; otherwise the rest of `parse`
    is bookkeeping done here the same way. `tests/gateway/test_numbers_fast_parse.py` checks
    the two agree on every example number libphonenumber ships and on random numbers."""
    if not E164.fullmatch(text):
        return phonenumbers.parse(text)
    digits = text[1:]
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return phonenumbers.parse(text)  # raises: no such country code
    national = digits[size:]
    prefix = _national_prefix(country_code)
    if prefix is None or prefix.match(national):
        return phonenumbers.parse(text)
    parsed = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    if len(national) > 1 and national[0] == "0":  # Italian leading zeros, as parse sets them
        parsed.italian_leading_zero = True
        zeros = 1
        while zeros < len(national) - 1 and national[zeros] == "0":
            zeros += 1
        if zeros != 1:
            parsed.number_of_leading_zeros = zeros
    return parsed


# The order libphonenumber's `_number_type_helper` tries the descriptions in; the first that
# matches decides, except that fixed line and mobile are told apart afterwards.
_ORDER = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
    ("fixed_line", PhoneNumberType.FIXED_LINE),
    ("mobile", PhoneNumberType.MOBILE),
)


@dataclass(frozen=True, slots=True)
class _Matcher:
    general: re.Pattern[str] | None  # None: the number cannot be valid at this length
    combined: re.Pattern[str] | None  # one alternative per applicable description, in order
    kinds: tuple[int, ...]  # group index -> PhoneNumberType, in the alternatives' order
    mobile: re.Pattern[str] | None  # to tell "fixed line or mobile" from "fixed line"
    same_fixed_and_mobile: bool


_MATCHERS: dict[tuple[int, str | None, int], _Matcher] = {}


def _applies(desc: object, length: int) -> str | None:
    """The description's pattern when it can match a national number of `length` digits."""
    if desc is None:
        return None
    pattern = getattr(desc, "national_number_pattern", None)
    lengths = getattr(desc, "possible_length", ())
    if not pattern or (lengths and length not in lengths):
        return None
    return str(pattern)


def _matcher(metadata: PhoneMetadata, key: tuple[int, str | None, int]) -> _Matcher:
    found = _MATCHERS.get(key)
    if found is not None:
        return found
    length = key[2]
    general = _applies(metadata.general_desc, length)
    parts: list[str] = []
    kinds: list[int] = []
    for name, kind in _ORDER:
        pattern = _applies(getattr(metadata, name), length)
        if pattern is not None:
            parts.append(f"({pattern})")
            kinds.append(kind)
    mobile = _applies(metadata.mobile, length)
    found = _Matcher(
        general=re.compile(general) if general is not None else None,
        combined=re.compile("|".join(parts)) if parts else None,
        kinds=tuple(kinds),
        mobile=re.compile(mobile) if mobile is not None else None,
        same_fixed_and_mobile=bool(metadata.same_mobile_and_fixed_line_pattern),
    )
    _MATCHERS[key] = found
    return found


def number_type(parsed: phonenumbers.PhoneNumber, region: str | None = "") -> int:
    """`phonenumbers.number_type(parsed)`: one regular expression instead of up to eleven.

    The descriptions a number of its length can match are joined, in libphonenumber's order,
    into one alternation per (region, length); `fullmatch` takes the first alternative that
    matches the whole number, which is the first description libphonenumber would accept.
    `region` is `region_code_for_number(parsed)` when the caller has it already."""
    if region == "":
        region = phonenumbers.region_code_for_number(parsed)
    country_code = parsed.country_code or 0
    if region is None:  # libphonenumber finds no metadata for it either
        return PhoneNumberType.UNKNOWN
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return PhoneNumberType.UNKNOWN
    national = phonenumbers.national_significant_number(parsed)
    matcher = _matcher(metadata, (country_code, region, len(national)))
    if matcher.general is None or matcher.general.fullmatch(national) is None:
        return PhoneNumberType.UNKNOWN
    if matcher.combined is None:
        return PhoneNumberType.UNKNOWN
    match = matcher.combined.fullmatch(national)
    if match is None:
        return PhoneNumberType.UNKNOWN
    # metadata patterns have no groups of their own: the one group that matched is the kind
    kind = matcher.kinds[(match.lastindex or 1) - 1]
    if kind == PhoneNumberType.FIXED_LINE:
        if matcher.same_fixed_and_mobile or (
                matcher.mobile is not None and matcher.mobile.fullmatch(national) is not None):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return PhoneNumberType.FIXED_LINE
    if kind == PhoneNumberType.MOBILE and matcher.same_fixed_and_mobile:
        return PhoneNumberType.UNKNOWN
    return kind


__all__ = ["E164", "number_type", "parse_e164"]

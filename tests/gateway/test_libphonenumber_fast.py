"""`parse_e164` and `number_type` must give exactly libphonenumber's answers (`parse`,
`number_type`): on every example number it ships (each region, each type, the non-geographic
entities), on random digit strings after every calling code, and with a national prefix written
after the country code."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.libphonenumber_fast import number_type, parse_e164


def _same(text: str) -> None:
    try:
        expected = phonenumbers.parse(text)
    except phonenumbers.NumberParseException as exc:
        with pytest.raises(phonenumbers.NumberParseException) as raised:
            parse_e164(text)
        assert raised.value.error_type == exc.error_type
        return
    assert parse_e164(text) == expected, text
    assert number_type(expected) == phonenumbers.number_type(expected), text
    region = phonenumbers.region_code_for_number(expected)
    assert number_type(expected, region) == phonenumbers.number_type(expected), text
    # gateway.numbers asks is_possible_number only of invalid numbers
    if phonenumbers.is_valid_number(expected):
        assert phonenumbers.is_possible_number(expected), text


def _examples() -> list[str]:
    found: set[str] = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in phonenumbers.PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                found.add(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            found.add(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    return sorted(found)


EXAMPLES = _examples()


def test_every_example_number_parses_the_same() -> None:
    assert len(EXAMPLES) > 900  # every region's examples, not an empty list
    for text in EXAMPLES:
        _same(text)


def test_example_numbers_with_a_national_prefix_after_the_country_code() -> None:
    for text in EXAMPLES:
        number = phonenumbers.parse(text)
        code = str(number.country_code)
        national = text[1 + len(code):]
        for prefix in ("0", "1", "9", "15", "00"):
            candidate = f"+{code}{prefix}{national}"
            if len(candidate) <= 16:
                _same(candidate)


CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@settings(max_examples=3000, deadline=None)
@given(code=st.sampled_from(CODES), rest=st.text("0123456789", min_size=1, max_size=14))
def test_random_numbers_after_every_calling_code(code: int, rest: str) -> None:
    _same(f"+{code}{rest}")


@settings(max_examples=500, deadline=None)
@given(st.text("+0123456789 -()", min_size=1, max_size=20))
def test_anything_else_is_parsed_by_libphonenumber_itself(text: str) -> None:
    _same(text)


def test_the_fast_path_is_taken_for_plain_e164(monkeypatch: pytest.MonkeyPatch) -> None:
    """Otherwise the equality tests above would pass by always calling `parse`."""
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("phonenumbers.parse called")

    expected = phonenumbers.parse("+4915112345678")
    # the `phonenumbers` module as gateway.libphonenumber_fast sees it (a string target: the
    # module does not re-export the name, so mypy --strict refuses the attribute)
    monkeypatch.setattr("gateway.libphonenumber_fast.phonenumbers.parse", refuse)
    assert parse_e164("+4915112345678") == expected
    with pytest.raises(AssertionError):  # "+44 0...": the national prefix: parse decides
        parse_e164("+4402079460000")


def test_number_types_of_every_example_agree_and_cover_the_kinds() -> None:
    """The examples span every kind the fast matcher can answer, so a wrong order or a missed
    fixed-line/mobile rule shows here."""
    kinds = set()
    for text in EXAMPLES:
        parsed = phonenumbers.parse(text)
        kind = number_type(parsed)
        assert kind == phonenumbers.number_type(parsed), text
        kinds.add(kind)
    assert {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
            phonenumbers.PhoneNumberType.TOLL_FREE, phonenumbers.PhoneNumberType.PREMIUM_RATE,
            phonenumbers.PhoneNumberType.VOIP} <= kinds


@settings(max_examples=3000, deadline=None)
@given(code=st.sampled_from(CODES), rest=st.text("0123456789", min_size=4, max_size=13))
def test_number_type_of_random_valid_length_numbers(code: int, rest: str) -> None:
    parsed = phonenumbers.PhoneNumber(country_code=code, national_number=int(rest))
    assert number_type(parsed) == phonenumbers.number_type(parsed)


@settings(max_examples=4000, deadline=None)
@given(example=st.sampled_from(EXAMPLES), keep=st.integers(min_value=2, max_value=8),
       tail=st.text("0123456789", min_size=0, max_size=9))
def test_number_type_near_every_example(example: str, keep: int, tail: str) -> None:
    """Numbers that share an example's first digits: where the type patterns differ."""
    _same(example[: 1 + keep] + tail)

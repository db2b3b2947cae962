"""Hypothesis: the decoder is total, and encode -> decode gives the text back.

"Total" means: any octets or any string give a decoded message or a `PduError`, never another
exception. The public `decode_pdu` converts stray exceptions as a last line of defence, so
these properties drive the inner `_decode` directly: a bug cannot hide behind that net.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.pdu import (
    Deliver,
    EncodeArgumentError,
    Encoding,
    PduError,
    Submit,
    count_text,
    decode_pdu,
    encode_deliver,
    encode_submit,
    gsm7,
    parse_address,
    to_json_dict,
)
from drivers.pdu.decoder import _decode
from drivers.pdu.segment import capacity

DATA = Path(__file__).resolve().parents[2] / "data" / "pdu-vectors.json"
VECTORS: list[dict[str, Any]] = json.loads(DATA.read_text(encoding="utf-8"))
VALID_OCTETS = [bytes.fromhex(v["pdu"]) for v in VECTORS if not v["expect"].get("error")]

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(max_examples=120, deadline=None)

GSM_CHARS = "".join(sorted(gsm7.BASIC_CHARS | gsm7.EXTENSION_CHARS))


def _total(data: bytes, has_smsc: bool) -> None:
    try:
        pdu = _decode(data, has_smsc)
    except PduError as exc:
        assert exc.reason
        return
    # Whatever decoded must also render as JSON (the CLI and the API print it).
    json.dumps(to_json_dict(pdu))


@FUZZ
@given(data=st.binary(max_size=200), has_smsc=st.booleans())
def test_random_octets_decode_or_raise_pdu_error(data: bytes, has_smsc: bool) -> None:
    _total(data, has_smsc)


@FUZZ
@given(text=st.text(max_size=80))
def test_random_strings_decode_or_raise_pdu_error(text: str) -> None:
    try:
        decode_pdu(text)
    except PduError:
        pass


def test_every_truncation_of_every_vector_is_handled() -> None:
    for octets in VALID_OCTETS:
        for end in range(len(octets)):
            _total(octets[:end], True)
            _total(octets[:end], False)


@FUZZ
@given(
    index=st.integers(0, len(VALID_OCTETS) - 1),
    edits=st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_mutated_vectors_decode_or_raise_pdu_error(
    index: int, edits: list[tuple[int, int]]
) -> None:
    octets = bytearray(VALID_OCTETS[index])
    for position, value in edits:
        octets[position % len(octets)] = value
    _total(bytes(octets), True)


@FUZZ
@given(
    index=st.integers(0, len(VALID_OCTETS) - 1),
    cut=st.integers(0, 300),
    insert=st.binary(min_size=1, max_size=8),
)
def test_spliced_vectors_decode_or_raise_pdu_error(index: int, cut: int, insert: bytes) -> None:
    octets = VALID_OCTETS[index]
    position = cut % len(octets)
    _total(octets[:position] + insert + octets[position:], True)


def test_oversized_input_is_refused_before_any_work() -> None:
    for pdu in ("00" * 10_000, b"\x00" * 10_000):
        try:
            decode_pdu(pdu)
        except PduError as exc:
            assert exc.reason == "too-long"
        else:  # pragma: no cover
            raise AssertionError("a 10 000-octet PDU must be refused")


# --- round trips ---------------------------------------------------------------------------

texts = st.one_of(
    st.text(max_size=500),
    st.text(alphabet=GSM_CHARS, max_size=500),
    st.text(alphabet=st.sampled_from("a€{😀ж\x0c^"), max_size=400),
)


def _units(text: str, encoding: Encoding) -> int:
    if encoding is Encoding.GSM7:
        return gsm7.septet_length(text) or 0
    return len(text.encode("utf-16-le")) // 2


@ROUND_TRIP
@given(text=texts, reference=st.integers(0, 255), sixteen=st.booleans())
def test_submit_round_trip(text: str, reference: int, sixteen: bool) -> None:
    bits: Literal[8, 16] = 16 if sixteen else 8
    parts = encode_submit(
        "+15550001111",
        text,
        reference=reference,
        concat_ref=reference * 7 if sixteen else None,
        concat_ref_bits=bits,
    )
    decoded = [decode_pdu(p.hex) for p in parts]
    assert all(isinstance(d, Submit) for d in decoded)
    subs = [d for d in decoded if isinstance(d, Submit)]
    assert "".join(s.user_data.text or "" for s in subs) == text
    expected = Encoding.GSM7 if gsm7.is_gsm7(text) else Encoding.UCS2
    assert {s.user_data.encoding for s in subs} == {expected}
    for part, sub in zip(parts, subs, strict=True):
        assert part.tpdu_length == len(part.hex) // 2 - 1
        ud_octets = (
            (sub.user_data.udl * 7 + 7) // 8 if expected is Encoding.GSM7 else sub.user_data.udl
        )
        assert ud_octets <= 140
        if len(parts) > 1:
            concat = sub.user_data.concat
            assert concat is not None and concat.total == len(parts) and concat.ref_bits == bits
    # Greedy and maximal: the next part's first character would not have fitted.
    texts_ = [s.user_data.text or "" for s in subs]
    if len(parts) > 1:
        header = 6 if bits == 8 else 7
        limit = capacity(expected, header)
        for current, following in itertools.pairwise(texts_):
            assert _units(current, expected) <= limit
            assert _units(current + following[0], expected) > limit
    if bits == 8:
        assert count_text(text).segments == len(parts)


@ROUND_TRIP
@given(
    text=texts,
    quarters=st.integers(-79, 79),
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2068, 12, 31)),
    sender=st.one_of(
        st.from_regex(r"\+[1-9][0-9]{0,19}", fullmatch=True),
        st.from_regex(r"[0-9]{1,20}", fullmatch=True),
        st.text(alphabet="ABCXYZabc019 ", min_size=1, max_size=11).filter(
            lambda s: not s.strip(" ").isdigit() and s.strip(" ") == s and bool(s)
        ),
    ),
)
def test_deliver_round_trip(text: str, quarters: int, moment: datetime, sender: str) -> None:
    stamp = moment.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=15 * quarters)))
    parts = encode_deliver(sender, text, timestamp=stamp, concat_ref=9)
    decoded = [decode_pdu(p) for p in parts]
    assert all(isinstance(d, Deliver) for d in decoded)
    delivers = [d for d in decoded if isinstance(d, Deliver)]
    assert "".join(d.user_data.text or "" for d in delivers) == text
    for d in delivers:
        assert d.timestamp == stamp and d.timestamp.utcoffset() == stamp.utcoffset()
        assert d.sender == parse_address(sender)


@ROUND_TRIP
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2068, 12, 31), timezones=st.just(UTC)
    )
)
def test_naive_and_utc_timestamps_agree(moment: datetime) -> None:
    stamp = moment.replace(microsecond=0)
    (aware,) = encode_deliver("+1", "x", timestamp=stamp)
    (naive,) = encode_deliver("+1", "x", timestamp=stamp.replace(tzinfo=None))
    assert aware == naive


@ROUND_TRIP
@given(text=st.text(alphabet=st.characters(), max_size=200))
def test_any_string_encodes_or_is_refused_consistently(text: str) -> None:
    """Lone surrogates (what surrogateescape makes of undecodable input) are refused, not crashed
    on, and counting agrees with encoding."""
    try:
        parts = encode_submit("+1555", text)
    except EncodeArgumentError:
        with pytest.raises(EncodeArgumentError):
            count_text(text)
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in text)
        return
    assert count_text(text).segments == len(parts)

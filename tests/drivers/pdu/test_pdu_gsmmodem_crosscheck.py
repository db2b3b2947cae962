"""Cross-check against an independent implementation: python-gsmmodem-new's `gsmmodem.pdu`.

Where both are right they must agree octet for octet. Its known bugs are pinned by their own
tests below (so we notice if it changes) and kept out of the generated inputs:
- its GSM-7 table has "`" at 0x5F where TS 23.038 has "§";
- it maps "ÿ" (not form feed) to ESC 0x0A, so form feed goes UCS-2 and "ÿ" crashes;
- its UCS-2 encoder writes one code unit per character, so anything beyond the BMP (emoji)
  raises;
- a bare-digit number gets type of number "national" (0xA1); we use "unknown" (0x81).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from gsmmodem.pdu import decodeSmsPdu, encodeSmsSubmitPdu
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.pdu import Submit, decode_pdu, decode_submit, encode_submit, gsm7
from drivers.pdu.timefields import relative_minutes

BUGGY = "§`\x0cÿ"
GSM_SAFE = "".join(sorted((gsm7.BASIC_CHARS | gsm7.EXTENSION_CHARS) - set(BUGGY)))
BMP_SAFE = st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"], exclude_characters=BUGGY)

texts = st.one_of(
    st.text(alphabet=GSM_SAFE, max_size=480),
    st.text(alphabet=BMP_SAFE, max_size=250),
    st.text(alphabet=st.sampled_from("ab{€ж"), max_size=400),
)


def _theirs(to: str, text: str, reference: int, minutes: int | None, srr: bool) -> list[str]:
    validity = timedelta(minutes=minutes) if minutes is not None else None
    parts = encodeSmsSubmitPdu(
        to, text, reference=reference, validity=validity, requestStatusReport=srr
    )
    return [bytes(p.data).hex().upper() for p in parts]


@settings(max_examples=120, deadline=None)
@given(
    text=texts,
    number=st.from_regex(r"\+[1-9][0-9]{2,14}", fullmatch=True),
    reference=st.integers(0, 255),
    tp_vp=st.one_of(st.none(), st.integers(0, 255)),
    srr=st.booleans(),
)
def test_submit_encoding_matches_gsmmodem(
    text: str, number: str, reference: int, tp_vp: int | None, srr: bool
) -> None:
    minutes = None if tp_vp is None else relative_minutes(tp_vp)
    ours = encode_submit(
        number, text, reference=reference, validity_minutes=minutes, request_status_report=srr
    )
    theirs = encodeSmsSubmitPdu(
        number,
        text,
        reference=reference,
        validity=None if minutes is None else timedelta(minutes=minutes),
        requestStatusReport=srr,
    )
    assert [p.hex for p in ours] == [bytes(p.data).hex().upper() for p in theirs]
    assert [p.tpdu_length for p in ours] == [p.tpduLength for p in theirs]
    # And each decodes the other's output to the same text.
    for part in ours:
        pdu = decode_pdu(part.hex)
        assert isinstance(pdu, Submit)
        assert decodeSmsPdu(part.hex)["text"] == pdu.user_data.text
        assert decodeSmsPdu(part.hex)["number"] == number


def test_bare_digits_differ_only_in_the_type_of_number() -> None:
    (ours,) = encode_submit("0708251358", "hello")
    (theirs,) = _theirs("0708251358", "hello", 0, None, False)
    assert ours.hex[8:10] == "81" and theirs[8:10] == "A1"
    assert ours.hex[:8] + ours.hex[10:] == theirs[:8] + theirs[10:]


def test_gsmmodem_bug_section_sign_is_sent_as_ucs2() -> None:
    (ours,) = encode_submit("+1555", "§")
    assert decode_submit(ours.hex).user_data.dcs == 0x00
    assert ours.hex.endswith("015F")  # one septet, 0x5F
    assert _theirs("+1555", "§", 0, None, False)[0].endswith("080200A7")  # UCS-2 fallback


def test_gsmmodem_bug_backtick_is_sent_as_gsm7_section_sign() -> None:
    (ours,) = encode_submit("+1555", "`")
    assert ours.hex.endswith("08020060")  # "`" is not in GSM-7: UCS-2
    assert _theirs("+1555", "`", 0, None, False)[0].endswith("00015F")  # shows as "§"


@pytest.mark.parametrize("text", ["😀", "ÿ"])
def test_gsmmodem_bug_cannot_encode(text: str) -> None:
    with pytest.raises((ValueError, TypeError)):
        _theirs("+1555", text, 0, None, False)
    (ours,) = encode_submit("+1555", text)
    assert decode_submit(ours.hex).user_data.text == text

"""GSM 7-bit alphabet, extension and national shift tables, and septet packing (TS 23.038)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.pdu import gsm7


def test_default_alphabet_is_128_distinct_characters() -> None:
    assert len(gsm7.DEFAULT_ALPHABET) == 128
    assert len(set(gsm7.DEFAULT_ALPHABET)) == 128
    assert gsm7.DEFAULT_ALPHABET[0x00] == "@"
    assert gsm7.DEFAULT_ALPHABET[0x1B] == "\x1b"
    assert gsm7.DEFAULT_ALPHABET[0x5F] == "§"  # python-gsmmodem has "`" here
    assert gsm7.DEFAULT_ALPHABET[0x60] == "¿"
    assert gsm7.DEFAULT_ALPHABET[0x24] == "¤"


def test_extension_table_is_the_ten_documented_characters() -> None:
    assert set(gsm7.DEFAULT_EXTENSION.values()) == set("\x0c^{}\\[~]|€")
    for char in "^{}\\[~]|€\x0c":
        septets = gsm7.encode_septets(char)
        assert len(septets) == 2 and septets[0] == 0x1B
        assert gsm7.decode_septets(septets) == char


def test_every_basic_character_round_trips_in_one_septet() -> None:
    text = "".join(sorted(gsm7.BASIC_CHARS))
    septets = gsm7.encode_septets(text)
    assert len(septets) == len(text) == 127
    assert gsm7.decode_septets(septets) == text


@pytest.mark.parametrize("char", ["`", "ç", "ğ", "😀", "\x00", "Ж", "\x1b"])
def test_characters_outside_the_alphabet_are_rejected(char: str) -> None:
    assert not gsm7.is_gsm7(char)
    assert gsm7.septet_length(char) is None
    with pytest.raises(UnicodeEncodeError):
        gsm7.encode_septets(char)


def test_septet_length_counts_extension_characters_twice() -> None:
    assert gsm7.septet_length("a€b") == 4
    assert gsm7.septet_length("") == 0


def test_escape_followed_by_an_unmapped_code_shows_the_default_character() -> None:
    # TS 23.038 6.2.1.1: no symbol in the extension table -> the default-alphabet character.
    assert gsm7.decode_septets(bytes([0x1B, 0x41])) == "A"


def test_escape_escape_and_trailing_escape_show_a_space() -> None:
    assert gsm7.decode_septets(bytes([0x41, 0x1B, 0x1B, 0x42])) == "A B"
    assert gsm7.decode_septets(bytes([0x41, 0x1B])) == "A "


def test_known_packing() -> None:
    septets = gsm7.encode_septets("hellohello")
    assert gsm7.pack_septets(septets).hex().upper() == "E8329BFD4697D9EC37"
    assert gsm7.unpack_septets(bytes.fromhex("E8329BFD4697D9EC37"), 10) == septets


def test_eight_septets_fill_seven_octets() -> None:
    packed = gsm7.pack_septets(b"\x7f" * 8)
    assert packed == b"\xff" * 7


def test_fill_bits_shift_the_first_septet() -> None:
    # After a 6-octet UDH (48 bits) one fill bit brings the text to the septet boundary 49.
    packed = gsm7.pack_septets(b"\x01", fill_bits=1)
    assert packed == b"\x02"
    assert gsm7.unpack_septets(packed, 1, skip_bits=1) == b"\x01"


@settings(max_examples=150, deadline=None)
@given(
    septets=st.binary(max_size=600).map(lambda b: bytes(x & 0x7F for x in b)),
    fill=st.integers(0, 6),
)
def test_pack_unpack_round_trip(septets: bytes, fill: int) -> None:
    packed = gsm7.pack_septets(septets, fill_bits=fill)
    assert len(packed) == (fill + 7 * len(septets) + 7) // 8
    assert gsm7.unpack_septets(packed, len(septets), skip_bits=fill) == septets


def test_pack_matches_a_bit_by_bit_reference() -> None:
    septets = bytes(range(128)) + bytes(range(127, -1, -1))[:127]
    bits = "".join(format(s, "07b")[::-1] for s in septets)  # LSB first
    bits += "0" * (-len(bits) % 8)
    expected = bytes(int(bits[i : i + 8][::-1], 2) for i in range(0, len(bits), 8))
    assert gsm7.pack_septets(septets) == expected


# --- national language shift tables (TS 23.038 Annex A) -----------------------------------


def test_turkish_locking_shift_replaces_default_characters() -> None:
    septets = bytes([0x07, 0x0B, 0x0C, 0x1C, 0x1D, 0x40, 0x60, 0x04])
    assert gsm7.decode_septets(septets, locking=gsm7.TURKISH) == "ıĞğŞşİç€"
    assert gsm7.decode_septets(septets) == "ìØøÆæ¡¿è"


def test_turkish_single_shift() -> None:
    septets = bytes([0x1B, 0x47, 0x1B, 0x49, 0x1B, 0x53, 0x1B, 0x63, 0x1B, 0x73, 0x1B, 0x65])
    assert gsm7.decode_septets(septets, single=gsm7.TURKISH) == "ĞİŞçş€"


def test_spanish_single_shift_and_no_locking_table() -> None:
    septets = bytes([0x1B, 0x09, 0x1B, 0x41, 0x1B, 0x55, 0x1B, 0x6F, 0x1B, 0x28])
    assert gsm7.decode_septets(septets, single=gsm7.SPANISH) == "çÁÚó{"
    # Spanish has no locking shift table: the default alphabet stays in force.
    assert gsm7.decode_septets(b"\x07", locking=gsm7.SPANISH) == "ì"


def test_portuguese_locking_and_single_shift() -> None:
    assert gsm7.decode_septets(bytes([0x5B, 0x5C, 0x7B, 0x15]), locking=gsm7.PORTUGUESE) == "ÃÕã∞"
    assert gsm7.decode_septets(bytes([0x1B, 0x05, 0x1B, 0x12]), single=gsm7.PORTUGUESE) == "êΦ"


def test_unknown_language_falls_back_to_default_tables() -> None:
    assert gsm7.decode_septets(bytes([0x07, 0x1B, 0x65]), locking=99, single=99) == "ì€"


def test_octets_that_are_not_septets_decode_to_replacement_characters() -> None:
    assert gsm7.decode_septets(bytes([0x41, 0x80, 0xFF, 0x1B, 0x90])) == "A\ufffd\ufffd\ufffd"

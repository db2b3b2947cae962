"""GSM 7-bit default alphabet, its extension table and the national shift tables (TS 23.038).

Speed matters here (every outbound part and every inbound PDU passes through), so the tables are
turned into `codecs` charmaps once at import and the septet packing works on whole Python
integers with a handful of mask-and-shift stages instead of a loop over bits.
"""

from __future__ import annotations

import codecs
from typing import Final

ESC: Final = 0x1B

# TS 23.038 6.2.1, septet order. 0x1B is the escape to the extension table.
DEFAULT_ALPHABET: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# TS 23.038 6.2.1.1: characters reached by ESC + septet.
DEFAULT_EXTENSION: Final[dict[int, str]] = {
    0x0A: "\x0c",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

# National language identifiers (TS 23.038 6.2.1.2.4) for the tables this codec knows.
TURKISH: Final = 1
SPANISH: Final = 2
PORTUGUESE: Final = 3


def _overlay(base: str, changes: dict[int, str]) -> str:
    chars = list(base)
    for position, char in changes.items():
        chars[position] = char
    return "".join(chars)


# fmt: off
# Annex A.3: locking shift tables replace the whole default alphabet (Spanish has none).
LOCKING_SHIFT_TABLES: Final[dict[int, str]] = {
    TURKISH: _overlay(
        DEFAULT_ALPHABET,
        {
            0x04: "€", 0x07: "ı", 0x0B: "Ğ", 0x0C: "ğ", 0x1C: "Ş", 0x1D: "ş",
            0x40: "İ", 0x60: "ç",
        },
    ),
    PORTUGUESE: _overlay(
        DEFAULT_ALPHABET,
        {
            0x04: "ê", 0x06: "ú", 0x07: "í", 0x08: "ó", 0x09: "ç", 0x0B: "Ô", 0x0C: "ô",
            0x0E: "Á", 0x0F: "á", 0x12: "ª", 0x13: "Ç", 0x14: "À", 0x15: "∞", 0x16: "^",
            0x17: "\\", 0x18: "€", 0x19: "Ó", 0x1A: "|", 0x1C: "Â", 0x1D: "â", 0x1E: "Ê",
            0x24: "º", 0x40: "Í", 0x5B: "Ã", 0x5C: "Õ", 0x5D: "Ú", 0x60: "~", 0x7B: "ã",
            0x7C: "õ", 0x7D: "`",
        },
    ),
}

_COMMON_SHIFT: Final = {
    0x0A: "\x0c", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~", 0x3E: "]",
    0x40: "|", 0x65: "€",
}

# Annex A.2: single shift tables (what ESC + septet means under IEI 0x24).
SINGLE_SHIFT_TABLES: Final[dict[int, dict[int, str]]] = {
    TURKISH: {
        **_COMMON_SHIFT,
        0x47: "Ğ", 0x49: "İ", 0x53: "Ş", 0x63: "ç", 0x67: "ğ", 0x69: "ı", 0x73: "ş",
    },
    SPANISH: {
        **_COMMON_SHIFT,
        0x09: "ç", 0x41: "Á", 0x49: "Í", 0x4F: "Ó", 0x55: "Ú", 0x61: "á", 0x69: "í", 0x6F: "ó",
        0x75: "ú",
    },
    PORTUGUESE: {
        **_COMMON_SHIFT,
        0x05: "ê", 0x09: "ç", 0x0B: "Ô", 0x0C: "ô", 0x0E: "Á", 0x0F: "á", 0x12: "Φ", 0x13: "Γ",
        0x15: "Ω", 0x16: "Π", 0x17: "Ψ", 0x18: "Σ", 0x19: "Θ", 0x1F: "Ê", 0x41: "À", 0x49: "Í",
        0x4F: "Ó", 0x55: "Ú", 0x5B: "Ã", 0x5C: "Õ", 0x61: "Â", 0x69: "í", 0x6F: "ó", 0x75: "ú",
        0x7B: "ã", 0x7C: "õ", 0x7F: "â",
    },
}

# fmt: on

# --- charmaps ---------------------------------------------------------------------------------

# Septets are 7-bit; octets 0x80-0xFF handed to the decoder by mistake show U+FFFD rather than
# raise. 0x1B decodes to itself so escapes can be found after the fast decode.
DECODING_TABLE: Final = DEFAULT_ALPHABET + "\ufffd" * 128

#: Characters of the default alphabet (1 septet each) and of its extension (2 septets each).
BASIC_CHARS: Final = frozenset(char for char in DEFAULT_ALPHABET if char != "\x1b")
EXTENSION_CHARS: Final = frozenset(DEFAULT_EXTENSION.values())


def _translate_table() -> dict[int, str]:
    # str.translate runs in C: every GSM character becomes its septet(s) as ASCII code points,
    # every other ASCII character becomes U+0080 so that "result is ASCII" means "all GSM-7".
    # Non-ASCII characters outside the alphabet pass through untranslated, which is non-ASCII too.
    table = dict.fromkeys(range(128), "\x80")
    table.update({ord(c): chr(code) for code, c in enumerate(DEFAULT_ALPHABET) if code != ESC})
    table.update({ord(c): "\x1b" + chr(code) for code, c in DEFAULT_EXTENSION.items()})
    return table


_TO_SEPTETS: Final = _translate_table()


def try_encode(text: str) -> bytes | None:
    """Text -> one septet per byte (escape pairs included), or None if it is not all GSM-7."""
    septets = text.translate(_TO_SEPTETS)
    return septets.encode("ascii") if septets.isascii() else None


def encode_septets(text: str) -> bytes:
    """Text -> one septet per byte (escape pairs included); `UnicodeEncodeError` if not GSM-7."""
    septets = text.translate(_TO_SEPTETS)
    if septets.isascii():
        return septets.encode("ascii")
    bad = next(
        i for i, c in enumerate(text) if not text[i : i + 1].translate(_TO_SEPTETS).isascii()
    )
    raise UnicodeEncodeError("gsm7", text, bad, bad + 1, "not in the GSM 7-bit alphabet")


def is_gsm7(text: str) -> bool:
    return text.translate(_TO_SEPTETS).isascii()


def septet_length(text: str) -> int | None:
    """Septets `text` needs in GSM-7, or None when some character is outside the alphabet."""
    septets = text.translate(_TO_SEPTETS)
    return len(septets) if septets.isascii() else None


def decode_septets(septets: bytes, *, locking: int | None = None, single: int | None = None) -> str:
    """One septet per byte -> text, honouring escapes and national shift tables.

    An escape followed by a code the table lacks shows the default-alphabet character (TS 23.038
    6.2.1.1); ESC ESC and a trailing ESC show a space; an octet above 0x7F shows U+FFFD.
    """
    table = DECODING_TABLE
    if locking is not None and locking in LOCKING_SHIFT_TABLES:
        table = LOCKING_SHIFT_TABLES[locking] + "\ufffd" * 128
    text: str = codecs.charmap_decode(septets, "strict", table)[0]
    if "\x1b" not in text:
        return text
    extension = SINGLE_SHIFT_TABLES.get(single, DEFAULT_EXTENSION) if single else DEFAULT_EXTENSION
    out: list[str] = []
    start = 0
    n = len(text)
    while True:
        esc = text.find("\x1b", start)
        if esc < 0:
            out.append(text[start:])
            break
        out.append(text[start:esc])
        if esc + 1 >= n:
            out.append(" ")
            break
        code = septets[esc + 1]
        if code == ESC:
            out.append(" ")
        else:
            out.append(extension.get(code, table[code]))
        start = esc + 2
    return "".join(out)


# --- packing ---------------------------------------------------------------------------------
#
# Packing septets (one per byte) into octets is "parallel bit extract" of the low 7 bits of every
# byte. Stage s merges neighbouring groups of 2**s septets: inside every 16 * 2**s bit group the
# upper half moves down by 2**s bits to sit right after the lower half's 7 * 2**s valid bits.
# Unpacking runs the stages backwards. Eight stages cover 256 septets, more than TP-UDL can
# ever claim; the stages are written out because a loop costs a third more.

_MAX_BITS: Final = 8 * 256


def _periodic_mask(period: int, start: int, width: int) -> int:
    block = ((1 << width) - 1) << start
    mask = 0
    for base in range(0, _MAX_BITS, period):
        mask |= block << base
    return mask


# _K[s]: the lower half of every 16 * 2**s bit group, which stays put.
_K0, _K1, _K2, _K3, _K4, _K5, _K6, _K7 = (_periodic_mask(16 << s, 0, 7 << s) for s in range(8))
# _P[s]: the upper half of a group before packing stage s (starts at bit 8 * 2**s).
_P0, _P1, _P2, _P3, _P4, _P5, _P6, _P7 = (_periodic_mask(16 << s, 8 << s, 7 << s) for s in range(8))
# _U[s]: the upper half of a group before unpacking stage s (starts at bit 7 * 2**s).
_U0, _U1, _U2, _U3, _U4, _U5, _U6, _U7 = (_periodic_mask(16 << s, 7 << s, 7 << s) for s in range(8))


def pack_int(septets: bytes) -> int:
    """Septets (one per byte, < 0x80) -> the packed bit string as an int, septet 0 in bit 0."""
    count = len(septets)
    if count > 256:  # 256 septets fill exactly 224 octets: pack in blocks
        return pack_int(septets[:256]) | (pack_int(septets[256:]) << 1792)
    x = int.from_bytes(septets, "little")
    if count > 1:
        x = (x & _K0) | ((x & _P0) >> 1)
    if count > 2:
        x = (x & _K1) | ((x & _P1) >> 2)
    if count > 4:
        x = (x & _K2) | ((x & _P2) >> 4)
    if count > 8:
        x = (x & _K3) | ((x & _P3) >> 8)
    if count > 16:
        x = (x & _K4) | ((x & _P4) >> 16)
    if count > 32:
        x = (x & _K5) | ((x & _P5) >> 32)
    if count > 64:
        x = (x & _K6) | ((x & _P6) >> 64)
    if count > 128:
        x = (x & _K7) | ((x & _P7) >> 128)
    return x


def pack_septets(septets: bytes, *, fill_bits: int = 0) -> bytes:
    """Septets -> octets, optionally after `fill_bits` zero bits (the padding after a UDH)."""
    total_bits = fill_bits + 7 * len(septets)
    return (pack_int(septets) << fill_bits).to_bytes((total_bits + 7) // 8, "little")


def unpack_septets(octets: bytes, count: int, *, skip_bits: int = 0) -> bytes:
    """The `count` septets that start `skip_bits` into `octets`, one per byte.

    The caller guarantees enough octets; missing high bits read as zero.
    """
    if count <= 0:
        return b""
    if count > 256:  # 256 septets fill exactly 224 octets: unpack in blocks
        head = unpack_septets(octets, 256, skip_bits=skip_bits)
        return head + unpack_septets(octets[224:], count - 256, skip_bits=skip_bits)
    x = (int.from_bytes(octets, "little") >> skip_bits) & ((1 << (7 * count)) - 1)
    if count > 128:
        x = (x & _K7) | ((x & _U7) << 128)
    if count > 64:
        x = (x & _K6) | ((x & _U6) << 64)
    if count > 32:
        x = (x & _K5) | ((x & _U5) << 32)
    if count > 16:
        x = (x & _K4) | ((x & _U4) << 16)
    if count > 8:
        x += (x & _U3) * 0xFF
    # Moving the upper half left by n bits adds (upper half) * (2**n - 1): one operation fewer,
    # and cheap while the multiplier is a single machine digit.
    if count > 4:
        x += (x & _U2) * 0xF
    if count > 2:
        x += (x & _U1) * 0x3
    if count > 1:
        x += x & _U0
    return x.to_bytes(count, "little")

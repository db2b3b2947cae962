"""How a text is cut into SMS parts, and what it costs (TS 23.040 9.2.3.24.1, TS 23.038).

GSM-7 when every character is in the default alphabet or its extension table (an extension
character costs two septets), otherwise UCS-2. One part holds 160 septets / 70 UTF-16 units /
140 octets; a concatenated part loses room to its UDH: 153 / 67 / 134 with an 8-bit reference,
152 / 66 / 133 with a 16-bit one.

The text is encoded once and cut as octets: a cut that would leave an escape (0x1B) as a part's
last septet, or a high surrogate as its last UTF-16 unit, or split a UTF-8 sequence, moves back
one character. That is the same as packing whole characters greedily, at C speed.
"""

from __future__ import annotations

from typing import Final

from . import gsm7
from .errors import EncodeArgumentError
from .model import Encoding, SegmentCount

#: User data capacity in octets (TS 23.040 9.2.3.16).
UD_OCTETS: Final = 140
MAX_PARTS: Final = 255
#: Octets of a UDH holding only an 8-bit concatenation element (UDHL included).
CONCAT_8_HEADER: Final = 6


def capacity(encoding: Encoding, header_octets: int) -> int:
    """Units (septets / UTF-16 units / octets) that fit next to a UDH of `header_octets`."""
    if encoding is Encoding.GSM7:
        return (UD_OCTETS * 8 - ((header_octets * 8 + 6) // 7) * 7) // 7
    if encoding is Encoding.UCS2:
        return (UD_OCTETS - header_octets) // 2
    return UD_OCTETS - header_octets


def encode_body(text: str, encoding: Encoding | None = None) -> tuple[Encoding, bytes]:
    """The whole text in the units it travels in: septets (one per byte), UTF-16BE or UTF-8.

    With `encoding` None the cheapest alphabet is chosen: GSM-7 if it can carry the text.
    """
    if encoding is None or encoding is Encoding.GSM7:
        septets = gsm7.try_encode(text)
        if septets is not None:
            return Encoding.GSM7, septets
        if encoding is Encoding.GSM7:
            raise EncodeArgumentError("text has characters outside the GSM 7-bit alphabet")
        encoding = Encoding.UCS2
    try:
        if encoding is Encoding.UCS2:
            return Encoding.UCS2, text.encode("utf-16-be")
        return Encoding.EIGHT_BIT, text.encode("utf-8")
    except UnicodeEncodeError:
        # Only a lone surrogate (e.g. undecodable bytes smuggled in via surrogateescape) fails.
        raise EncodeArgumentError(
            "text contains a lone surrogate, which no SMS can carry"
        ) from None


def _unit_octets(encoding: Encoding) -> int:
    return 2 if encoding is Encoding.UCS2 else 1


def _cut_points(encoding: Encoding, body: bytes, size: int) -> list[int]:
    """End offsets of each part when parts hold at most `size` octets of `body`."""
    ends: list[int] = []
    total = len(body)
    start = 0
    while start < total:
        end = start + size
        if end >= total:
            end = total
        elif encoding is Encoding.GSM7:
            if body[end - 1] == gsm7.ESC:
                end -= 1
        elif encoding is Encoding.UCS2:
            if 0xD8 <= body[end - 2] <= 0xDB:
                end -= 2
        else:
            while end > start + 1 and body[end] & 0xC0 == 0x80:
                end -= 1
        ends.append(end)
        start = end
    return ends


def cut_body(encoding: Encoding, body: bytes, header_octets: int) -> list[bytes]:
    """One chunk of `body` per part; a single part uses the whole capacity."""
    step = _unit_octets(encoding)
    if len(body) <= capacity(encoding, 0) * step:
        return [body]
    ends = _cut_points(encoding, body, capacity(encoding, header_octets) * step)
    if len(ends) > MAX_PARTS:
        raise EncodeArgumentError(f"text needs {len(ends)} parts, at most {MAX_PARTS} exist")
    starts = [0, *ends[:-1]]
    return [body[a:b] for a, b in zip(starts, ends, strict=True)]


def _decode_body(encoding: Encoding, chunk: bytes) -> str:
    if encoding is Encoding.GSM7:
        return gsm7.decode_septets(chunk)
    if encoding is Encoding.UCS2:
        return chunk.decode("utf-16-be")
    return chunk.decode("utf-8")


def split_text(text: str, encoding: Encoding | None = None) -> tuple[Encoding, list[str]]:
    """(encoding, parts) as `encode_submit` sends them with an 8-bit concatenation reference."""
    chosen, body = encode_body(text, encoding)
    return chosen, [_decode_body(chosen, c) for c in cut_body(chosen, body, CONCAT_8_HEADER)]


def count_text(text: str, encoding: Encoding | None = None) -> SegmentCount:
    """Encoding and cost of `text`, for estimates before anything is stored or sent.

    Texts too long to send (more than 255 parts) are still counted; a text no SMS can carry
    (a lone surrogate, or forced GSM-7 on other characters) raises `EncodeArgumentError`.
    """
    chosen, body = encode_body(text, encoding)
    step = _unit_octets(chosen)
    units = len(body) // step
    single = capacity(chosen, 0)
    if units <= single:
        return SegmentCount(chosen, 1, units, single)
    per_part = capacity(chosen, CONCAT_8_HEADER)
    segments = len(_cut_points(chosen, body, per_part * step))
    return SegmentCount(chosen, segments, units, per_part)

"""Text-mode strings between TE and TA, in the character set chosen by `AT+CSCS`."""

from __future__ import annotations

from drivers.pdu import gsm7


def decode_te_text(data: bytes, cscs: str) -> str:
    """Bytes the host typed after `> ` (text mode) -> message text. ValueError if malformed."""
    charset = cscs.upper()
    if charset == "UCS2":
        raw = bytes.fromhex(data.decode("ascii").replace("\n", ""))
        if len(raw) % 2:
            raise ValueError("odd UCS2 hex")
        return raw.decode("utf-16-be")
    if charset == "HEX":
        return gsm7.decode_septets(bytes.fromhex(data.decode("ascii").replace("\n", "")))
    if charset == "GSM":
        return gsm7.decode_septets(bytes(b & 0x7F for b in data))
    return data.decode("latin-1")


def encode_te_text(text: str, cscs: str) -> str:
    """Message text -> what the TA prints in text mode for this `+CSCS`."""
    charset = cscs.upper()
    if charset == "UCS2":
        return text.encode("utf-16-be").hex().upper()
    if charset == "HEX":
        try:
            return gsm7.encode_septets(text).hex().upper()
        except UnicodeEncodeError:
            return text.encode("utf-16-be").hex().upper()
    if charset == "GSM":
        try:
            return gsm7.encode_septets(text).decode("latin-1")
        except UnicodeEncodeError:
            pass
    return text.encode("latin-1", "replace").decode("latin-1")

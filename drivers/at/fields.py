"""Splitting the `+XXX: a,"b",c` payload of an AT line into fields, quotes respected."""

from __future__ import annotations

import re

_FIELD = re.compile(r'\s*("(?:[^"]*)"|[^,]*)\s*(?:,|$)')


def payload(line: str) -> str:
    """What follows the `+XXX:` prefix (the whole line when there is no prefix)."""
    head, sep, rest = line.partition(":")
    return rest.strip() if sep and head[:1] in "+^*!$#" else line.strip()


def split_raw(text: str) -> list[str]:
    """Fields exactly as sent (quotes kept): tells `"1"` from `1` and an empty field from none."""
    if not text:
        return []
    if '"' not in text:  # the common case, without the regex
        return [f.strip() for f in text.split(",")]
    fields: list[str] = []
    pos = 0
    while pos <= len(text):
        match = _FIELD.match(text, pos)
        if match is None or match.end() == pos:
            break
        fields.append(match.group(1))
        pos = match.end()
        if text[match.end() - 1 : match.end()] != ",":
            break
    if text.rstrip().endswith(",") and fields:
        fields.append("")
    return fields


def unquote(field: str) -> str:
    if len(field) >= 2 and field[0] == '"' and field[-1] == '"':
        return field[1:-1]
    return field


def split_fields(text: str) -> list[str]:
    return [unquote(f) for f in split_raw(text)]


def to_int(field: str) -> int | None:
    value = unquote(field).strip()
    if value.lstrip("-").isdigit():
        return int(value)
    return None


def is_hex(text: str) -> bool:
    return bool(text) and len(text) % 2 == 0 and all(c in _HEX for c in text)


_HEX = frozenset("0123456789abcdefABCDEF")

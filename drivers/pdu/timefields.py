"""TP-SCTS style timestamps and TP-VP validity periods (TS 23.040 9.2.3.11-12).

Seven swapped-BCD octets: year, month, day, hour, minute, second, and the offset from UTC in
quarter hours whose bit 3 is the sign. Two-digit years 69-99 read as 19xx, 00-68 as 20xx.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from .errors import BadTimestampError, EncodeArgumentError
from .model import Validity

# Swapped-BCD octet -> its value, 0xFF where a semi-octet is not a decimal digit.
_BCD: Final = bytes(
    (o & 0x0F) * 10 + (o >> 4) if (o & 0x0F) < 10 and (o >> 4) < 10 else 0xFF for o in range(256)
)
_TO_BCD: Final = tuple(((v % 10) << 4) | (v // 10) for v in range(100))


def _zone_for(tz_octet: int) -> timezone | None:
    lo, hi = tz_octet & 0x07, tz_octet >> 4
    if hi > 9:
        return None
    quarters = (lo * 10 + hi) * (-1 if tz_octet & 0x08 else 1)
    return UTC if quarters == 0 else timezone(timedelta(minutes=15 * quarters))


# TP-SCTS offset octet -> tzinfo (None where the second semi-octet is not a digit).
_ZONES: Final = tuple(_zone_for(o) for o in range(256))


def decode_timestamp(octets: bytes, offset: int = 0) -> datetime:
    """Seven octets -> an aware datetime in the PDU's own offset."""
    fields = octets[:6].translate(_BCD)
    zone = _ZONES[octets[6]]
    if zone is None or 0xFF in fields:
        raise BadTimestampError(f"timestamp {octets.hex().upper()} is not BCD", offset=offset)
    year, month, day, hour, minute, second = fields
    try:
        return datetime(
            year + (1900 if year >= 69 else 2000), month, day, hour, minute, second, tzinfo=zone
        )
    except ValueError as exc:
        raise BadTimestampError(
            f"timestamp {octets.hex().upper()} is not a date: {exc}", offset=offset
        ) from None


def encode_timestamp(moment: datetime) -> bytes:
    """An aware datetime (naive means UTC) -> seven octets; the offset must be whole quarters."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment.utcoffset() or timedelta(0)
    minutes, rest = divmod(int(delta.total_seconds()), 60)
    if rest or minutes % 15:
        raise EncodeArgumentError("a TP-SCTS offset must be a whole number of quarter hours")
    quarters = minutes // 15
    if abs(quarters) > 79:
        raise EncodeArgumentError("a TP-SCTS offset must be within 19 h 45 min of UTC")
    tz = _TO_BCD[abs(quarters)] | (0x08 if quarters < 0 else 0)
    return bytes(
        (
            _TO_BCD[moment.year % 100],
            _TO_BCD[moment.month],
            _TO_BCD[moment.day],
            _TO_BCD[moment.hour],
            _TO_BCD[moment.minute],
            _TO_BCD[moment.second],
            tz,
        )
    )


def relative_minutes(tp_vp: int) -> int:
    """TP-VP relative octet -> minutes."""
    if tp_vp <= 143:
        return (tp_vp + 1) * 5
    if tp_vp <= 167:
        return 720 + (tp_vp - 143) * 30
    if tp_vp <= 196:
        return (tp_vp - 166) * 1440
    return (tp_vp - 192) * 10080


def relative_tp_vp(minutes: int) -> int:
    """Minutes -> the smallest relative TP-VP lasting at least that long (capped at 63 weeks)."""
    if minutes <= 0:
        raise EncodeArgumentError("validity must be at least one minute")
    if minutes <= 720:
        return (minutes + 4) // 5 - 1
    if minutes <= 1440:
        return 143 + (minutes - 720 + 29) // 30
    if minutes <= 30 * 1440:
        return 166 + (minutes + 1439) // 1440
    weeks = (minutes + 10079) // 10080
    return min(192 + max(weeks, 5), 255)


def relative_validity(tp_vp: int) -> Validity:
    return Validity("relative", tp_vp=tp_vp, minutes=relative_minutes(tp_vp), raw=bytes((tp_vp,)))

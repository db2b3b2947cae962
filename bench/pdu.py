"""PDU codec throughput, side by side with python-gsmmodem-new's `gsmmodem.pdu`.

Figures are parts (segments) per second over a fixed, seeded mix that looks like gateway
traffic: mostly short GSM-7 texts, some with extension characters, some UCS-2 (Cyrillic,
accented CJK-free BMP text, since gsmmodem cannot encode emoji), and a tail of long multipart
messages. Decode runs over SMS-DELIVER PDUs of the same mix, as a modem prints them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from gsmmodem.pdu import decodeSmsPdu, encodeSmsSubmitPdu

from drivers.pdu import decode_deliver, decode_pdu, encode_deliver, encode_submit

WORDS = [
    "your",
    "code",
    "is",
    "order",
    "shipped",
    "tomorrow",
    "meeting",
    "at",
    "the",
    "office",
    "please",
    "call",
    "back",
    "thanks",
    "balance",
    "reminder",
    "appointment",
    "confirmed",
    "delivery",
    "window",
    "between",
    "and",
    "pm",
    "am",
    "ok",
    "see",
    "you",
]
CYRILLIC = ["привет", "заказ", "доставлен", "спасибо", "встреча", "завтра", "код", "подтверждения"]


def _sentence(rng: random.Random, words: list[str], length: int) -> str:
    out: list[str] = []
    while sum(len(w) + 1 for w in out) < length:
        out.append(rng.choice(words))
    return " ".join(out)[:length]


def make_mix(count: int, seed: int = 2) -> list[str]:
    rng = random.Random(seed)
    texts: list[str] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.55:
            texts.append(_sentence(rng, WORDS, rng.randint(20, 140)) + f" {rng.randint(0, 9999)}")
        elif roll < 0.70:
            texts.append(_sentence(rng, WORDS, rng.randint(20, 120)) + " [ref] {x} 5€ ~ok^")
        elif roll < 0.85:
            texts.append(_sentence(rng, CYRILLIC, rng.randint(20, 120)))
        else:
            texts.append(_sentence(rng, WORDS, rng.randint(300, 600)))
    return texts


def _compare(title: str, ours: Callable[[], int], theirs: Callable[[], int]) -> None:
    """Best of several interleaved rounds, so load from other processes hits both sides alike."""
    best = {"smsgw drivers.pdu": float("inf"), "gsmmodem.pdu": float("inf")}
    parts = {"smsgw drivers.pdu": 0, "gsmmodem.pdu": 0}
    for _ in range(ROUNDS):
        for label, func in (("smsgw drivers.pdu", ours), ("gsmmodem.pdu", theirs)):
            started = time.perf_counter()
            parts[label] = func()
            best[label] = min(best[label], time.perf_counter() - started)
    print(title)
    rates = {}
    for label, seconds in best.items():
        rates[label] = parts[label] / seconds
        print(
            f"  {label:<20} {rates[label]:>11,.0f} parts/s"
            f"  ({parts[label]} parts in {seconds * 1000:.1f} ms, best of {ROUNDS})"
        )
    print(f"  speed-up: {rates['smsgw drivers.pdu'] / rates['gsmmodem.pdu']:.1f}x")


ROUNDS = 9


def main() -> None:
    texts = make_mix(2000)
    numbers = [f"+4915{random.Random(i).randint(10**8, 10**9 - 1)}" for i in range(len(texts))]
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=UTC) + timedelta(hours=2)

    def ours_encode() -> int:
        return sum(
            len(encode_submit(n, t, reference=i & 0xFF))
            for i, (n, t) in enumerate(zip(numbers, texts, strict=True))
        )

    def theirs_encode() -> int:
        return sum(
            len(encodeSmsSubmitPdu(n, t, reference=i & 0xFF, requestStatusReport=False))
            for i, (n, t) in enumerate(zip(numbers, texts, strict=True))
        )

    delivers = [
        pdu
        for i, (n, t) in enumerate(zip(numbers, texts, strict=True))
        for pdu in encode_deliver(n, t, timestamp=moment, smsc="+491722270142", concat_ref=i & 0xFF)
    ]

    def ours_decode() -> int:
        for pdu in delivers:
            decode_pdu(pdu)
        return len(delivers)

    def theirs_decode() -> int:
        for pdu in delivers:
            decodeSmsPdu(pdu)
        return len(delivers)

    # Both sides must be doing the same work.
    sample: dict[str, Any] = decodeSmsPdu(delivers[0])
    assert sample["text"] == decode_deliver(delivers[0]).user_data.text

    print(f"mix: {len(texts)} texts, {len(delivers)} parts")
    _compare("encode (SMS-SUBMIT)", ours_encode, theirs_encode)
    _compare("decode (SMS-DELIVER)", ours_decode, theirs_decode)


if __name__ == "__main__":
    main()

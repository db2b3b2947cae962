"""Framing: the same frames whatever the chunking; garbage and endless lines never leak."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.at.framing import PROMPT, Frame, LineFramer

STREAM = (
    b"ATE0\r\r\nOK\r\n\r\n+CMTI: \"SM\",3\r\n\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    b"\r\n> "
)
EXPECTED: list[Frame] = ["ATE0", "OK", '+CMTI: "SM",3', "+CSQ: 20,99", "OK", PROMPT]


def feed_all(framer: LineFramer, chunks: list[bytes]) -> list[Frame]:
    out: list[Frame] = []
    for chunk in chunks:
        out.extend(framer.feed(chunk))
    return out


def test_whole_stream() -> None:
    assert feed_all(LineFramer(), [STREAM]) == EXPECTED


def test_one_byte_at_a_time() -> None:
    assert feed_all(LineFramer(), [bytes([b]) for b in STREAM]) == EXPECTED


@given(st.lists(st.integers(min_value=1, max_value=len(STREAM)), max_size=20))
@settings(max_examples=200, deadline=None)
def test_any_chunking(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert feed_all(LineFramer(), [c for c in chunks if c]) == EXPECTED


def test_prompt_alone_and_with_noise() -> None:
    assert LineFramer().feed(b">") == [PROMPT]
    assert LineFramer().feed(b"\x85\x90> ") == [PROMPT]
    framer = LineFramer()
    assert framer.feed(b"\r\n>") == [PROMPT]
    assert framer.feed(b" ") == []  # the space after an early '>' is not a line
    assert framer.feed(b"\r\nOK\r\n") == ["OK"]


def test_binary_noise_is_dropped_and_counted() -> None:
    framer = LineFramer()
    noise = bytes([0xFF, 0x00, 0x85, 0x1B, 0xC3, 0xA9])
    out = framer.feed(noise + b"OK\r\n" + noise + b"\r\n" + noise)
    assert out == ["OK"]
    assert framer.stats.dropped_bytes >= 2 * len(noise)


def test_random_garbage_never_yields_non_printable_lines() -> None:
    rng = random.Random(7)
    framer = LineFramer(max_line=256)
    for _ in range(2000):
        data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        for frame in framer.feed(data):
            if frame is not PROMPT:
                assert isinstance(frame, str) and frame.isprintable() and frame.isascii()
                assert 0 < len(frame) <= 256
    assert framer.pending_bytes <= 256


def test_overlong_line_is_discarded_then_resyncs() -> None:
    framer = LineFramer(max_line=64)
    assert framer.feed(b"A" * 100) == []
    assert framer.stats.overflows == 1
    assert framer.feed(b"B" * 100) == []  # still the same endless line
    assert framer.feed(b"tail\r\nOK\r\n") == ["OK"]
    assert framer.pending_bytes == 0


def test_bare_cr_and_lf_both_end_lines() -> None:
    assert LineFramer().feed(b"one\rtwo\nthree\r\n\r\n") == ["one", "two", "three"]

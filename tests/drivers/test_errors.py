"""The error table: every row of modem-behaviour.md maps to its class, numeric and verbose."""

from __future__ import annotations

import pytest

from drivers.errors import (
    AtError,
    CommandTimeout,
    ConnectionLost,
    ErrorClass,
    ModemError,
    PromptTimeout,
    SubmitOutcomeUnknown,
    classify,
    parse_error_line,
    rule_for,
)

T, P, S, M, B, IG = (
    ErrorClass.TEMPORARY,
    ErrorClass.PERMANENT,
    ErrorClass.SIM,
    ErrorClass.MODEM,
    ErrorClass.BUG,
    ErrorClass.IGNORE,
)

# (kind, codes, class) straight from the table in modem-behaviour.md
TABLE = [
    ("CMS", [1], P),
    ("CMS", [8, 10, 21, 29, 50, 69], S),
    ("CMS", [27, 28, 30], P),
    ("CMS", [38], T),
    ("CMS", [41, 42, 47], T),
    ("CMS", [95, 96, 97, 98, 99, 111, 127], T),
    ("CMS", [192, 194], T),
    ("CMS", [193], S),
    ("CMS", [195, 196], P),
    ("CMS", [208, 211], M),
    ("CMS", [300], M),
    ("CMS", [301], T),
    ("CMS", [302, 303], M),
    ("CMS", [304, 305], B),
    ("CMS", [310, 311, 312, 316, 317, 318], S),
    ("CMS", [313], M),
    ("CMS", [314], T),
    ("CMS", [315], S),
    ("CMS", [320], M),
    ("CMS", [321], IG),
    ("CMS", [322], M),
    ("CMS", [330], S),
    ("CMS", [331, 332], T),
    ("CMS", [340], IG),
    ("CMS", [500, 512, 513, 600], T),
    ("CME", [3, 4], M),
    ("CME", [10, 11, 12, 13, 15, 16], S),
    ("CME", [14], T),
    ("CME", [20], M),
    ("CME", [21, 22], IG),
    ("CME", [30, 31], T),
    ("CME", [100], T),
]


@pytest.mark.parametrize(("kind", "codes", "expected"), TABLE)
def test_every_table_row_has_its_class(kind: str, codes: list[int], expected: ErrorClass) -> None:
    for code in codes:
        assert classify(kind, code) is expected, (kind, code)
        error = AtError.from_line(f"+{kind} ERROR: {code}")
        assert (error.kind, error.code, error.error_class) == (kind, code, expected)


def test_limited_attempts_are_carried() -> None:
    assert rule_for("CMS", 500).max_attempts == 3
    assert rule_for("CMS", 512).max_attempts == 3
    assert rule_for("CMS", 111).max_attempts == 2  # T once, then P
    assert rule_for("CMS", 41).max_attempts is None


@pytest.mark.parametrize(
    ("line", "kind", "code", "expected"),
    [
        ("+CMS ERROR: SIM busy", "CMS", 314, T),
        ("+CME ERROR: SIM not inserted", "CME", 10, S),
        ("+CME ERROR: SIM PIN required", "CME", 11, S),
        ("+CMS ERROR: invalid PDU mode parameter", "CMS", 304, B),
        ("+CMS ERROR: Memory full", "CMS", 322, M),
        ("+CME ERROR: not found", "CME", 22, IG),
        ('+CME ERROR: "operation not supported"', "CME", 4, M),
    ],
)
def test_verbose_errors_map_to_codes(
    line: str, kind: str, code: int, expected: ErrorClass
) -> None:
    error = AtError.from_line(line)
    assert (error.kind, error.code, error.error_class) == (kind, code, expected)


def test_unknown_verbose_and_bare_error_are_bounded_temporary() -> None:
    error = AtError.from_line("+CMS ERROR: flux capacitor drained")
    assert error.code is None and error.error_class is T and error.max_attempts == 3
    bare = AtError.from_line("ERROR")
    assert bare.kind is None and bare.error_class is T
    assert parse_error_line("ERROR") == (None, None, "ERROR")


def test_tree_encodes_policy() -> None:
    assert issubclass(CommandTimeout, TimeoutError) and issubclass(CommandTimeout, ModemError)
    assert issubclass(PromptTimeout, CommandTimeout)
    assert ConnectionLost("x").error_class is M
    assert SubmitOutcomeUnknown("no answer").reason == "no answer"
    assert "[sim]" in str(AtError.from_line("+CMS ERROR: 310", command="AT+CMGS=20"))

"""The V.250 line splitter: what one `AT...` line means as a list of commands."""

from __future__ import annotations

import pytest

from sim.atline import AtCommand, Form, parse_line, split_args
from sim.errors import AtError


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("AT", []),
        ("at", []),
        ("ATE0", [AtCommand("E", Form.EXEC, "0")]),
        ("ATE0V1", [AtCommand("E", Form.EXEC, "0"), AtCommand("V", Form.EXEC, "1")]),
        ("ATZ", [AtCommand("Z", Form.EXEC, "")]),
        ("AT&F", [AtCommand("&F", Form.EXEC, "")]),
        ("ATS0=0", [AtCommand("S0", Form.SET, "0")]),
        ("ATS7?", [AtCommand("S7", Form.READ)]),
        ("AT+CMGF?", [AtCommand("+CMGF", Form.READ)]),
        ("AT+CMGF=?", [AtCommand("+CMGF", Form.TEST)]),
        ("AT+cmgf=0", [AtCommand("+CMGF", Form.SET, "0")]),
        ("AT+CMGL", [AtCommand("+CMGL", Form.EXEC)]),
        (
            "AT+CMGF=0;+CNMI=2,1,0,2,0",
            [AtCommand("+CMGF", Form.SET, "0"), AtCommand("+CNMI", Form.SET, "2,1,0,2,0")],
        ),
        ('AT+CSCA="+49;171",145', [AtCommand("+CSCA", Form.SET, '"+49;171",145')]),
        ("AT^CURC=0", [AtCommand("^CURC", Form.SET, "0")]),
        ("ATD+4917012345;", [AtCommand("D", Form.SET, "+4917012345;")]),
        ("noise AT", []),
    ],
)
def test_parse_line(line: str, expected: list[AtCommand]) -> None:
    assert parse_line(line) == expected


def test_a_line_without_at_is_not_a_command() -> None:
    assert parse_line("hello") is None
    assert parse_line("") is None


def test_malformed_extended_command_is_an_error() -> None:
    with pytest.raises(AtError):
        parse_line("AT+")
    with pytest.raises(AtError):
        parse_line("AT@@")


def test_split_args_keeps_quoted_commas() -> None:
    assert split_args('1,"SM","a,b",,3') == ["1", "SM", "a,b", "", "3"]
    assert split_args("") == []


def test_int_arg_defaults_and_errors() -> None:
    cmd = AtCommand("+CNMI", Form.SET, "2,,0")
    assert cmd.int_arg(0) == 2
    assert cmd.int_arg(1, 7) == 7
    assert cmd.int_arg(4, 0) == 0
    with pytest.raises(AtError):
        AtCommand("+CMGS", Form.SET, "x").int_arg(0)
    with pytest.raises(AtError):
        AtCommand("+CMGS", Form.SET, "").int_arg(0)

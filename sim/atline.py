"""Splits one AT command line into commands, the way a V.250 command interpreter does.

`AT+CMGF=0;+CNMI=2,1,0,2,0` is two extended commands; `ATE0V1` is two basic ones; `ATD...` takes
the rest of the line. The modem runs them in order and stops at the first error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

from sim.errors import AtError


class Form(Enum):
    EXEC = "exec"  # AT+CMGL
    READ = "read"  # AT+CMGF?
    TEST = "test"  # AT+CMGF=?
    SET = "set"  # AT+CMGF=0


@dataclass(frozen=True, slots=True)
class AtCommand:
    """One command of a line. `name` is upper case with its prefix (`+CMGS`, `^CURC`, `E`, `&F`)."""

    name: str
    form: Form
    raw: str = ""  # argument text after `=` (SET), or the digits of a basic command

    @property
    def args(self) -> list[str]:
        return split_args(self.raw)

    def arg(self, index: int, default: str = "") -> str:
        args = self.args
        return args[index] if index < len(args) and args[index] != "" else default

    def int_arg(self, index: int, default: int | None = None) -> int:
        """Argument `index` as an int; a missing one is `default`, or a syntax error."""
        text = self.arg(index)
        if text == "":
            if default is None:
                raise AtError.plain()
            return default
        try:
            return int(text)
        except ValueError:
            raise AtError.plain() from None


_EXT_PREFIXES: Final = "+^$%*#!"
_NAME: Final = re.compile(r"[A-Za-z0-9_]+")
_DIGITS: Final = re.compile(r"\d*")


def split_args(raw: str) -> list[str]:
    """`1,"SM","a,b",,3` -> ['1', 'SM', 'a,b', '', '3']: quotes removed, commas inside kept."""
    if raw == "":
        return []
    out: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in raw:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    out.append("".join(current).strip())
    return out


def parse_line(line: str) -> list[AtCommand] | None:
    """The commands of a line, or None when the line holds no `AT` prefix (modems ignore it).

    Raises AtError for a line that starts with AT but does not parse.
    """
    start = line.upper().find("AT")
    if start < 0:
        return None
    body = line[start + 2 :]
    commands: list[AtCommand] = []
    i = 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch in " ;":
            i += 1
            continue
        if ch in _EXT_PREFIXES:
            match = _NAME.match(body, i + 1)
            if match is None:
                raise AtError.plain()
            name = ch + match.group().upper()
            i = match.end()
            if body.startswith("=?", i):
                commands.append(AtCommand(name, Form.TEST))
                i += 2
            elif body.startswith("?", i):
                commands.append(AtCommand(name, Form.READ))
                i += 1
            elif body.startswith("=", i):
                end = _end_of_args(body, i + 1)
                commands.append(AtCommand(name, Form.SET, body[i + 1 : end]))
                i = end
            else:
                commands.append(AtCommand(name, Form.EXEC))
            continue
        upper = ch.upper()
        if upper == "D":
            commands.append(AtCommand("D", Form.SET, body[i + 1 :].strip()))
            break
        if upper == "&" and i + 1 < n and body[i + 1].isalpha():
            digits = _DIGITS.match(body, i + 2)
            end = digits.end() if digits else i + 2
            commands.append(AtCommand("&" + body[i + 1].upper(), Form.EXEC, body[i + 2 : end]))
            i = end
            continue
        if upper == "S" and i + 1 < n and body[i + 1].isdigit():
            digits = _DIGITS.match(body, i + 1)
            assert digits is not None
            reg = body[i + 1 : digits.end()]
            i = digits.end()
            if body.startswith("?", i):
                commands.append(AtCommand("S" + reg, Form.READ))
                i += 1
            elif body.startswith("=", i):
                value = _DIGITS.match(body, i + 1)
                end = value.end() if value else i + 1
                commands.append(AtCommand("S" + reg, Form.SET, body[i + 1 : end]))
                i = end
            else:
                commands.append(AtCommand("S" + reg, Form.EXEC))
            continue
        if upper.isalpha():
            digits = _DIGITS.match(body, i + 1)
            end = digits.end() if digits else i + 1
            form = Form.EXEC
            if body.startswith("=?", end):
                form = Form.TEST
                end += 2
            elif body.startswith("?", end):
                form = Form.READ
                end += 1
            commands.append(AtCommand(upper, form, body[i + 1 : end].rstrip("=?")))
            i = end
            continue
        raise AtError.plain()
    return commands


def _end_of_args(body: str, start: int) -> int:
    quoted = False
    for j in range(start, len(body)):
        ch = body[j]
        if ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            return j
    return len(body)

"""A small udev rules reader and evaluator for the subset 99-smsgw.rules uses.

`udevadm test` needs a real device in sysfs, and a test box has no USB modem, so the rules are
also run here against device chains written from the firmware notes (USB IDs, interface numbers
and descriptors). The semantics follow udev(7): keys that search the parents (ATTRS, SUBSYSTEMS,
KERNELS, DRIVERS) must all match on one device of the chain, the device itself included; `|`
separates alternatives; patterns are shell globs; an empty pattern matches an unset value.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

MATCH_OPS = ("==", "!=")
ASSIGN_OPS = ("=", "+=", "-=", ":=")
DEVICE_KEYS = {"ACTION", "SUBSYSTEM", "KERNEL", "DRIVER", "ATTR", "ENV"}
PARENT_KEYS = {"SUBSYSTEMS", "KERNELS", "DRIVERS", "ATTRS"}
ASSIGN_KEYS = {"ENV", "GROUP", "OWNER", "MODE", "SYMLINK", "IMPORT", "GOTO", "LABEL", "TAG"}
_TOKEN = re.compile(
    r'\s*(?P<key>[A-Z_]+)(?:\{(?P<attr>[^}]*)\})?\s*(?P<op>==|!=|\+=|-=|:=|=)\s*'
    r'"(?P<value>(?:[^"\\]|\\.)*)"\s*(?P<sep>,)?'
)


class RuleSyntaxError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Token:
    key: str
    attr: str | None
    op: str
    value: str


@dataclass(frozen=True, slots=True)
class Rule:
    line: int
    tokens: tuple[Token, ...]


def parse(text: str) -> list[Rule]:
    rules: list[Rule] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            raise RuleSyntaxError(f"line {number}: continuation lines are not used here")
        tokens: list[Token] = []
        pos = 0
        while pos < len(line):
            match = _TOKEN.match(line, pos)
            if match is None:
                raise RuleSyntaxError(f"line {number}: cannot parse at {line[pos:]!r}")
            token = Token(match["key"], match["attr"], match["op"], match["value"])
            _check(number, token)
            tokens.append(token)
            pos = match.end()
            if match["sep"] is None and pos < len(line):
                raise RuleSyntaxError(f"line {number}: missing comma before {line[pos:]!r}")
        rules.append(Rule(number, tuple(tokens)))
    return rules


def _check(number: int, token: Token) -> None:
    if token.op in MATCH_OPS:
        if token.key not in DEVICE_KEYS | PARENT_KEYS:
            raise RuleSyntaxError(f"line {number}: {token.key} cannot be matched")
    elif token.key not in ASSIGN_KEYS:
        raise RuleSyntaxError(f"line {number}: {token.key} cannot be assigned")
    needs_attr = token.key in {"ATTR", "ATTRS", "ENV", "IMPORT"}
    if needs_attr != (token.attr is not None):
        wants = "needs" if needs_attr else "takes no"
        raise RuleSyntaxError(f"line {number}: {token.key} {wants} {{...}}")


@dataclass
class Device:
    """One node of the chain: the device itself first, then its parents."""

    subsystem: str
    kernel: str = ""
    driver: str = ""
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class Event:
    chain: list[Device]
    env: dict[str, str] = field(default_factory=dict)
    action: str = "add"
    group: str | None = None
    mode: str | None = None
    symlinks: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)


def _matches(pattern: str, value: str | None) -> bool:
    value = value or ""
    return any(
        (alt == "" and value == "") or (alt != "" and fnmatch.fnmatchcase(value, alt))
        for alt in pattern.split("|")
    )


def _device_value(event: Event, token: Token) -> str | None:
    device = event.chain[0]
    if token.key == "ATTR":
        return device.attrs.get(token.attr or "")
    if token.key == "ENV":
        return event.env.get(token.attr or "")
    return {
        "ACTION": event.action,
        "SUBSYSTEM": device.subsystem,
        "KERNEL": device.kernel,
        "DRIVER": device.driver,
    }[token.key]


def _parent_value(device: Device, token: Token) -> str | None:
    if token.key == "ATTRS":
        return device.attrs.get(token.attr or "")
    return {"SUBSYSTEMS": device.subsystem, "KERNELS": device.kernel,
            "DRIVERS": device.driver}[token.key]


def _substitute(value: str, event: Event) -> str:
    return re.sub(r"\$env\{([^}]+)\}|%E\{([^}]+)\}",
                  lambda m: event.env.get(m[1] or m[2], ""), value)


def _rule_matches(rule: Rule, event: Event) -> bool:
    for token in rule.tokens:
        if token.op in MATCH_OPS and token.key in DEVICE_KEYS:
            hit = _matches(token.value, _device_value(event, token))
            if hit != (token.op == "=="):
                return False
    parent_tokens = [t for t in rule.tokens if t.op in MATCH_OPS and t.key in PARENT_KEYS]
    if parent_tokens:
        return any(
            all(_matches(t.value, _parent_value(d, t)) == (t.op == "==") for t in parent_tokens)
            for d in event.chain
        )
    return True


def run(rules: list[Rule], event: Event) -> Event:
    labels = {t.value: i for i, r in enumerate(rules) for t in r.tokens if t.key == "LABEL"}
    index = 0
    while index < len(rules):
        rule = rules[index]
        index += 1
        if not _rule_matches(rule, event):
            continue
        for token in rule.tokens:
            if token.op not in ASSIGN_OPS:
                continue
            value = _substitute(token.value, event)
            if token.key == "ENV":
                event.env[token.attr or ""] = value
            elif token.key == "GROUP":
                event.group = value
            elif token.key == "MODE":
                event.mode = value
            elif token.key == "SYMLINK":
                event.symlinks += value.split()
            elif token.key == "IMPORT":
                event.imports.append(value)
            elif token.key == "GOTO":
                if value not in labels:
                    raise RuleSyntaxError(f"line {rule.line}: GOTO {value} has no LABEL")
                index = labels[value]
    return event


def load(path: Path) -> list[Rule]:
    return parse(path.read_text())

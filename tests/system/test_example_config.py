"""systemd/smsgw.toml.example lists every setting of the model, with its default, each under a
line saying what it does; and it is a valid configuration (commented examples included)."""

from __future__ import annotations

import re
import tomllib
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from gateway import cli
from gateway.config import Settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "systemd" / "smsgw.toml.example"
LIST_SECTIONS = ("modems", "routing")  # arrays of tables: shown commented out, as a template

_HEADER = re.compile(r"^(?P<hash>#\s*)?\[\[?(?P<name>[a-z_.]+)\]\]?\s*$")
_KEY = re.compile(r"^(?P<hash>#\s*)?(?P<key>[a-z_]+)\s*=\s*(?P<value>.+)$")


def model_keys(model: type[BaseModel] = Settings, prefix: str = "") -> Iterator[str]:
    """Every leaf setting as a dotted path; list items count as their table (modems.path)."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = [a for a in (typing.get_args(info.annotation) or (info.annotation,))
                  if isinstance(a, type) and issubclass(a, BaseModel)]
        if info.annotation is not None and typing.get_origin(info.annotation) is list:
            nested = [a for a in typing.get_args(info.annotation)
                      if isinstance(a, type) and issubclass(a, BaseModel)]
        if nested:
            yield from model_keys(nested[0], f"{path}.")
        else:
            yield path


def example_keys(text: str) -> dict[str, tuple[bool, str, int]]:
    """dotted key -> (commented out, value text, line number), checking the one-line
    description above each key on the way."""
    keys: dict[str, tuple[bool, str, int]] = {}
    section = ""
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        header = _HEADER.match(line)
        if header:
            section = header["name"]
            continue
        key = _KEY.match(line)
        if key is None:
            continue
        dotted = f"{section}.{key['key']}" if section else key["key"]
        above = lines[number - 2] if number >= 2 else ""
        assert above.startswith("#") and not _KEY.match(above) and not _HEADER.match(above) \
            and len(above.lstrip("# ").strip()) > 10, f"line {number}: {dotted} has no description"
        assert dotted not in keys, f"line {number}: {dotted} twice"
        keys[dotted] = (bool(key["hash"]), key["value"], number)
    return keys


def _default(path: str) -> Any:
    node: Any = Settings().model_dump(mode="json")
    for part in path.split("."):
        node = node[part]
    return node


def _field_default_is_none(path: str) -> bool:
    model: Any = Settings
    *parents, leaf = path.split(".")
    for part in parents:
        annotation = model.model_fields[part].annotation
        args = typing.get_args(annotation) or (annotation,)
        model = next(a for a in args if isinstance(a, type) and issubclass(a, BaseModel))
    return model.model_fields[leaf].default is None


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[bool, str, int]]:
    return example_keys(EXAMPLE.read_text())


def test_every_setting_is_in_the_example(keys: dict[str, tuple[bool, str, int]]) -> None:
    missing = sorted(set(model_keys()) - set(keys))
    assert not missing, f"add these settings to {EXAMPLE.name}: {missing}"


def test_the_example_has_no_setting_the_model_lacks(keys: dict[str, tuple[bool, str, int]]) -> None:
    stale = sorted(set(keys) - set(model_keys()))
    assert not stale, f"{EXAMPLE.name} lists unknown settings: {stale}"


def _in_list(path: str) -> bool:
    """Whether the setting sits in an array of tables (`[[messaging.rules]]`): a template."""
    model: Any = Settings
    for part in path.split(".")[:-1]:
        annotation = model.model_fields[part].annotation
        if typing.get_origin(annotation) is list:
            return True
        args = typing.get_args(annotation) or (annotation,)
        model = next(a for a in args if isinstance(a, type) and issubclass(a, BaseModel))
    return False


def test_each_value_shown_is_the_default(keys: dict[str, tuple[bool, str, int]]) -> None:
    for dotted, (commented, value, number) in keys.items():
        if dotted.split(".")[0] in LIST_SECTIONS or _in_list(dotted):
            assert commented, f"line {number}: {dotted} belongs in the commented template"
            continue
        parsed = tomllib.loads(f"v = {value}")["v"]
        if commented:
            # a commented key is one with no value by default; the line shows an example
            assert _field_default_is_none(dotted), f"line {number}: {dotted} has a default"
        else:
            assert parsed == _default(dotted), f"line {number}: {dotted} = {value}"


def test_the_example_is_a_valid_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "check", str(EXAMPLE)]) == 0, capsys.readouterr().err
    assert ": OK" in capsys.readouterr().out


def test_the_commented_examples_are_valid_too(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    uncommented = re.sub(r"(?m)^# ?(\[|[a-z_]+ = )", r"\1", EXAMPLE.read_text())
    assert uncommented.splitlines().count("[[modems]]") == 1 and "\npath = " in uncommented
    everything = tmp_path / "everything.toml"
    everything.write_text(uncommented)
    assert cli.main(["config", "check", str(everything)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "TLS on" in out and "modem: slot1" in out and "route: +447" in out


def test_a_missing_key_would_be_noticed() -> None:
    text = EXAMPLE.read_text().replace("\nmax_segments = 10", "\n# (removed)")
    assert "api.max_segments" not in example_keys(text)
    assert "api.max_segments" in set(model_keys())

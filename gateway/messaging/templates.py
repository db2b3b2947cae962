"""Named templates: `Hi {first_name}, your appointment is on {date:%d %b} at {time}`.

Parsing uses `string.Formatter().parse` only to split literal text from replacement fields;
nothing is ever evaluated. A field is a plain name (no attribute or index access, no `!r`
conversion), optionally followed by whitelisted filters (`{account|last4}` -> "ending in 1234")
and a format spec: `strftime` directives for dates and times (a value may be an ISO 8601
string), or a numeric spec (`{amount:.2f}`) for numbers. A field that is missing, None or
empty is an error naming it, never an empty string in a customer's text.

Templates are compiled once and cached, so a campaign renders 100,000 rows at dictionary speed.
"""

from __future__ import annotations

import re
import sqlite3
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime
from typing import Any

from drivers.pdu import count_text
from gateway.store.models import Category

from .config import MessagingConfig, is_template_name

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_DATE_SPEC = re.compile(r"^[%A-Za-z0-9 ,.:/\-']{1,40}$")
_NUMBER_SPEC = re.compile(r"^[<>^=]?[+\- ]?,?\d{0,3}(\.\d{1,6})?[dfe%]?$")
MAX_TEMPLATE = 1600
MAX_VALUE = 500


class TemplateError(ValueError):
    """A template that cannot be parsed or rendered; `missing` names absent fields."""

    def __init__(self, detail: str, *, missing: tuple[str, ...] = (), field: str | None = None
                 ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.missing = missing
        self.field = field


def _last4(value: str) -> str:
    tail = re.sub(r"[^0-9A-Za-z]", "", value)[-4:]
    if not tail:
        raise TemplateError("last4: the value has no digits or letters")
    return f"ending in {tail}"


def _first(value: str) -> str:
    parts = value.split()
    return parts[0] if parts else value


FILTERS: dict[str, Callable[[str], str]] = {
    "last4": _last4,
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
    "first": _first,
    "trim": str.strip,
}


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    filters: tuple[str, ...]
    spec: str


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    source: str
    parts: tuple[str | _Field, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.name for p in self.parts if isinstance(p, _Field)))

    def render(self, values: Mapping[str, Any]) -> str:
        out: list[str] = []
        missing: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = values.get(part.name)
            if value is None or (isinstance(value, str) and not value.strip()):
                missing.append(part.name)
                continue
            out.append(_format(part, value))
        if missing:
            names = ", ".join(dict.fromkeys(missing))
            raise TemplateError(f"missing field: {names}", missing=tuple(dict.fromkeys(missing)),
                                field=missing[0])
        return "".join(out)


def _as_date(value: Any, name: str) -> date | datetime | dtime:
    if isinstance(value, date | datetime | dtime):
        return value
    text = str(value).strip()
    for parse in (datetime.fromisoformat, date.fromisoformat, dtime.fromisoformat):
        try:
            return parse(text)
        except ValueError:
            continue
    raise TemplateError(f"{name}: {text[:40]!r} is not an ISO 8601 date or time", field=name)


def _as_number(value: Any, name: str) -> int | float:
    if isinstance(value, bool):
        raise TemplateError(f"{name}: not a number", field=name)
    if isinstance(value, int | float):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise TemplateError(f"{name}: {text[:40]!r} is not a number", field=name) from None


def _format(field: _Field, value: Any) -> str:
    spec = field.spec
    if spec:
        if "%" in spec and _DATE_SPEC.match(spec):
            text = _as_date(value, field.name).strftime(spec)
        else:
            number = _as_number(value, field.name)
            if spec.endswith("d") and isinstance(number, float):
                number = round(number)
            try:
                text = format(number, spec)
            except ValueError as exc:
                raise TemplateError(f"{field.name}: {exc}", field=field.name) from None
    elif isinstance(value, datetime | date | dtime):
        text = value.isoformat()
    else:
        text = str(value)
    if len(text) > MAX_VALUE:
        raise TemplateError(f"{field.name}: value longer than {MAX_VALUE} characters",
                            field=field.name)
    for name in field.filters:
        text = FILTERS[name](text)
    return text


def compile_template(source: str) -> CompiledTemplate:
    if not source:
        raise TemplateError("a template needs text")
    if len(source) > MAX_TEMPLATE:
        raise TemplateError(f"a template has at most {MAX_TEMPLATE} characters")
    parts: list[str | _Field] = []
    try:
        parsed = list(string.Formatter().parse(source))
    except ValueError as exc:
        raise TemplateError(f"template syntax: {exc} (write {{{{ and }}}} for braces)") from None
    for literal, field_name, raw_spec, conversion in parsed:
        if literal:
            parts.append(literal)
        if field_name is None:
            continue
        if conversion is not None:
            raise TemplateError(f"{{{field_name}!{conversion}}}: conversions are not allowed")
        name, *filters = [p.strip() for p in field_name.split("|")]
        if not _NAME.match(name):
            raise TemplateError(
                f"{{{field_name}}}: a field is a plain name (letters, digits, _), "
                "no attribute or index access", field=name or None
            )
        for f in filters:
            if f not in FILTERS:
                raise TemplateError(f"{{{field_name}}}: unknown filter {f!r}; "
                                    f"use {', '.join(sorted(FILTERS))}", field=name)
        spec = raw_spec or ""
        if "{" in spec:
            raise TemplateError(f"{{{field_name}}}: nested fields are not allowed", field=name)
        if spec and not (_DATE_SPEC.match(spec) and "%" in spec) \
                and not _NUMBER_SPEC.match(spec):
            raise TemplateError(f"{{{field_name}:{spec}}}: use strftime directives (%d %b) "
                                "or a number format (.2f)", field=name)
        parts.append(_Field(name, tuple(filters), spec))
    return CompiledTemplate(source, tuple(parts))


_CACHE: dict[str, CompiledTemplate] = {}


def compiled(source: str) -> CompiledTemplate:
    found = _CACHE.get(source)
    if found is None:
        found = compile_template(source)
        if len(_CACHE) > 1000:
            _CACHE.clear()
        _CACHE[source] = found
    return found


def render(source: str, values: Mapping[str, Any]) -> str:
    return compiled(source).render(values)


# --- the store of named templates ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    text: str
    category: Category
    description: str | None
    source: str  # config | api

    @property
    def compiled(self) -> CompiledTemplate:
        return compiled(self.text)


@dataclass(frozen=True, slots=True)
class Preview:
    text: str
    encoding: str
    segments: int
    characters: int
    cost: float
    currency: str
    fields: tuple[str, ...]
    footer_added: bool


def preview(text: str, segments_price: float, currency: str, fields: tuple[str, ...],
            footer_added: bool = False) -> Preview:
    plan = count_text(text)
    return Preview(text, plan.encoding.value, plan.segments, len(text),
                   round(plan.segments * segments_price, 6), currency, fields, footer_added)


def list_templates(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT name, text, category, description FROM msg_templates ORDER BY name"
    ).fetchall()


class Templates:
    """Templates from `[messaging.templates]` (read only) and from the API (stored)."""

    def __init__(self, runner: Any, config: MessagingConfig, clock: Callable[[], int]) -> None:
        self._runner = runner
        self._config = config
        self._now_ms = clock

    def _configured(self, name: str) -> Template | None:
        entry = self._config.template(name)
        if entry is None:
            return None
        return Template(name, entry.text, entry.category, entry.description, "config")

    async def get(self, name: str) -> Template | None:
        found = self._configured(name)
        if found is not None:
            return found
        row = await self._runner.run_in_reader(lambda c: c.execute(
            "SELECT name, text, category, description FROM msg_templates WHERE name = ?",
            (name,)).fetchone())
        if row is None:
            return None
        return Template(row[0], row[1], Category(row[2]), row[3], "api")

    async def all(self) -> list[Template]:
        rows = await self._runner.run_in_reader(list_templates)
        stored = [Template(r[0], r[1], Category(r[2]), r[3], "api") for r in rows
                  if self._config.template(r[0]) is None]
        configured = [t for n in self._config.templates if (t := self._configured(n.name))]
        return sorted([*configured, *stored], key=lambda t: t.name)

    async def put(self, name: str, text: str, category: Category, description: str | None
                  ) -> Template:
        if not is_template_name(name):
            raise TemplateError("a template name is 1-64 lower case letters, digits, _ . -",
                                field="name")
        if self._config.template(name) is not None:
            raise TemplateError(f"template {name!r} is defined in the configuration",
                                field="name")
        compile_template(text)  # refuse what cannot render
        now = self._now_ms()
        await self._runner.run_in_writer(lambda c: c.execute(
            "INSERT INTO msg_templates (name, text, category, description, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
            " text = excluded.text, category = excluded.category,"
            " description = excluded.description, updated_at = excluded.updated_at",
            (name, text, category.value, description, now, now)))
        return Template(name, text, category, description, "api")

    async def delete(self, name: str) -> bool:
        removed: int = await self._runner.run_in_writer(
            lambda c: c.execute("DELETE FROM msg_templates WHERE name = ?", (name,)).rowcount)
        return removed > 0


__all__ = [
    "FILTERS",
    "CompiledTemplate",
    "Preview",
    "Template",
    "TemplateError",
    "Templates",
    "compile_template",
    "compiled",
    "preview",
    "render",
]

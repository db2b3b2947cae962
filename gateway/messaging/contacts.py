"""Contacts and consent: per category (transactional, marketing) with the full history.

Consent states per category: `granted`, `revoked` or not recorded (None). Transactional
messages are allowed unless revoked; marketing needs `granted`. `opted_out` is the global STOP:
it blocks every category on every SIM until the contact opts back in (START), and it is kept
apart from the per-category states, so START restores what was recorded before. Every change
is a row in `msg_consent_events` with its time and source (`keyword`, `api`, `import`).

CSV import/export: a `number` column, optional `marketing`, `transactional` (granted/revoked,
yes/no, true/false, 1/0), `opted_out`, `language`, `time_zone`; every other column is a
contact field that templates can use (`{first_name}`).
"""

from __future__ import annotations

import csv
import functools
import io
import sqlite3
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway.store.models import Category

from .db import Runner, chunks, dumps, from_ms, loads, marks, to_ms

MAX_FIELDS = 50
MAX_FIELD_CHARS = 500
MAX_IMPORT_ROWS = 200_000
_RESERVED = ("number", "marketing", "transactional", "opted_out", "language", "time_zone")
_YES = {"granted", "yes", "y", "true", "1", "opt_in", "opted_in", "subscribed"}
_NO = {"revoked", "no", "n", "false", "0", "opt_out", "unsubscribed"}


class Consent(StrEnum):
    GRANTED = "granted"
    REVOKED = "revoked"


class Source(StrEnum):
    KEYWORD = "keyword"
    API = "api"
    IMPORT = "import"


@dataclass(frozen=True, slots=True)
class Contact:
    number: str
    opted_out: bool = False
    transactional: Consent | None = None
    marketing: Consent | None = None
    language: str | None = None
    time_zone: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def consent(self, category: Category) -> Consent | None:
        return self.marketing if category is Category.MARKETING else self.transactional

    def refusal(self, category: Category) -> tuple[str, str] | None:
        """(code, reason) when a message of this category may not go to this contact."""
        if self.opted_out:
            return "opted_out", "the recipient opted out (STOP)"
        state = self.consent(category)
        if state is Consent.REVOKED:
            return "opted_out", f"the recipient revoked consent to {category.value} messages"
        if category is Category.MARKETING and state is not Consent.GRANTED:
            return "no_consent", "no recorded consent to marketing messages"
        return None


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    number: str
    category: Category | None
    action: str
    source: str
    detail: str | None
    at: datetime


_COLUMNS = ("number, opted_out, transactional, marketing, language, time_zone, fields,"
            " created_at, updated_at")


def _contact(row: tuple[Any, ...]) -> Contact:
    number, opted, trans, market, language, zone, fields, created, updated = row
    return Contact(
        number=number,
        opted_out=bool(opted),
        transactional=Consent(trans) if trans else None,
        marketing=Consent(market) if market else None,
        language=language,
        time_zone=zone,
        fields=loads(fields) or {},
        created_at=from_ms(created),
        updated_at=from_ms(updated),
    )


def get_contacts(conn: sqlite3.Connection, numbers: Sequence[str]) -> dict[str, Contact]:
    found: dict[str, Contact] = {}
    unique = list(dict.fromkeys(numbers))
    for part in chunks(unique):
        for row in conn.execute(
            f"SELECT {_COLUMNS} FROM msg_contacts WHERE number IN ({marks(len(part))})",
            tuple(part),
        ):
            contact = _contact(row)
            found[contact.number] = contact
    return found


def get_contact(conn: sqlite3.Connection, number: str) -> Contact | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM msg_contacts WHERE number = ?",
                       (number,)).fetchone()
    return None if row is None else _contact(row)


def _ensure(conn: sqlite3.Connection, number: str, now_ms: int) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO msg_contacts (number, created_at, updated_at) VALUES (?, ?, ?)",
        (number, now_ms, now_ms),
    )


def _event(conn: sqlite3.Connection, number: str, category: Category | None, action: str,
           *, source: str, detail: str | None, now_ms: int) -> None:
    conn.execute(
        "INSERT INTO msg_consent_events (number, category, action, source, detail, at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (number, category.value if category else None, action, source, detail, now_ms),
    )


def set_opted_out(conn: sqlite3.Connection, number: str, opted_out: bool, *, source: str,
                  detail: str | None, now_ms: int) -> bool:
    """Global opt-out (STOP) or opt back in (START); True when the state changed."""
    _ensure(conn, number, now_ms)
    cur = conn.execute(
        "UPDATE msg_contacts SET opted_out = ?, updated_at = ? WHERE number = ?"
        " AND opted_out != ?",
        (int(opted_out), now_ms, number, int(opted_out)),
    )
    changed = cur.rowcount == 1
    if changed:
        _event(conn, number, None, "opt_out" if opted_out else "opt_in", source=source,
               detail=detail, now_ms=now_ms)
    return changed


def set_consent(conn: sqlite3.Connection, number: str, category: Category, state: Consent,
                *, source: str, detail: str | None, now_ms: int) -> bool:
    _ensure(conn, number, now_ms)
    column = "marketing" if category is Category.MARKETING else "transactional"
    cur = conn.execute(
        f"UPDATE msg_contacts SET {column} = ?, updated_at = ? WHERE number = ?"
        f" AND ({column} IS NULL OR {column} != ?)",
        (state.value, now_ms, number, state.value),
    )
    changed = cur.rowcount == 1
    if changed:
        _event(conn, number, category, state.value, source=source, detail=detail,
               now_ms=now_ms)
    return changed


def set_profile(conn: sqlite3.Connection, number: str, *, now_ms: int,
                fields: Mapping[str, Any] | None = None, replace: bool = False,
                language: str | None = None, time_zone: str | None = None) -> None:
    _ensure(conn, number, now_ms)
    if fields is not None:
        current: dict[str, Any] = {}
        if not replace:
            row = conn.execute("SELECT fields FROM msg_contacts WHERE number = ?",
                               (number,)).fetchone()
            current = (loads(row[0]) if row else None) or {}
        current.update(fields)
        check_fields(current)
        conn.execute("UPDATE msg_contacts SET fields = ?, updated_at = ? WHERE number = ?",
                     (dumps(current), now_ms, number))
    if language is not None:
        conn.execute("UPDATE msg_contacts SET language = ?, updated_at = ? WHERE number = ?",
                     (language or None, now_ms, number))
    if time_zone is not None:
        conn.execute("UPDATE msg_contacts SET time_zone = ?, updated_at = ? WHERE number = ?",
                     (time_zone or None, now_ms, number))


def check_fields(fields: Mapping[str, Any]) -> None:
    if len(fields) > MAX_FIELDS:
        raise ValueError(f"a contact has at most {MAX_FIELDS} fields")
    for key, value in fields.items():
        if not key or len(key) > 64 or not key.replace("_", "a").isalnum():
            raise ValueError(f"field name {key!r}: letters, digits and _ only")
        if value is not None and len(str(value)) > MAX_FIELD_CHARS:
            raise ValueError(f"field {key}: at most {MAX_FIELD_CHARS} characters")


def check_zone(zone: str) -> str:
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r}, e.g. Europe/London") from None
    return zone


def history(conn: sqlite3.Connection, number: str, limit: int = 200) -> list[ConsentEvent]:
    rows = conn.execute(
        "SELECT number, category, action, source, detail, at FROM msg_consent_events"
        " WHERE number = ? ORDER BY id DESC LIMIT ?", (number, limit)).fetchall()
    return [ConsentEvent(r[0], Category(r[1]) if r[1] else None, r[2], r[3], r[4], from_ms(r[5]))
            for r in rows]


def parse_consent(value: str) -> Consent | None:
    word = value.strip().lower()
    if not word:
        return None
    if word in _YES:
        return Consent.GRANTED
    if word in _NO:
        return Consent.REVOKED
    raise ValueError(f"{value!r} is not a consent value (granted/revoked, yes/no)")


@dataclass(frozen=True, slots=True)
class ImportProblem:
    row: int
    number: str
    problem: str
    detail: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    rows: int
    imported: int
    problems: tuple[ImportProblem, ...]


Normaliser = Callable[[str], "str | None"]


class Contacts:
    def __init__(self, runner: Runner, normalise: Normaliser, clock: Callable[[], datetime],
                 *, quick: Normaliser | None = None) -> None:
        self._runner = runner
        self.normalise = normalise
        self.quick = quick or normalise  # imports: the E.164 form only (sends check the rest)
        self._clock = clock

    def _now_ms(self) -> int:
        return to_ms(self._clock())

    async def get(self, number: str) -> Contact | None:
        return await self._runner.run_in_reader(lambda c: get_contact(c, number))

    async def many(self, numbers: Sequence[str]) -> dict[str, Contact]:
        items = list(numbers)
        return await self._runner.run_in_reader(lambda c: get_contacts(c, items))

    async def update(self, number: str, *, fields: Mapping[str, Any] | None = None,
                     replace: bool = False, language: str | None = None,
                     time_zone: str | None = None,
                     consent: Mapping[Category, Consent] | None = None,
                     opted_out: bool | None = None, source: str = Source.API,
                     detail: str | None = None) -> Contact:
        if time_zone:
            check_zone(time_zone)
        if fields is not None:
            check_fields(fields)
        now = self._now_ms()

        def unit(conn: sqlite3.Connection) -> Contact:
            set_profile(conn, number, now_ms=now, fields=fields, replace=replace,
                        language=language, time_zone=time_zone)
            for category, state in (consent or {}).items():
                set_consent(conn, number, category, state, source=source, detail=detail,
                            now_ms=now)
            if opted_out is not None:
                set_opted_out(conn, number, opted_out, source=source, detail=detail, now_ms=now)
            found = get_contact(conn, number)
            assert found is not None
            return found

        return await self._runner.run_in_writer(unit)

    async def delete(self, number: str) -> bool:
        """Forget a contact's profile (fields); the consent history and opt-out stay, as the
        record a regulator asks for."""
        now = self._now_ms()
        changed: int = await self._runner.run_in_writer(lambda c: c.execute(
            "UPDATE msg_contacts SET fields = NULL, language = NULL, time_zone = NULL,"
            " updated_at = ? WHERE number = ?", (now, number)).rowcount)
        return changed > 0

    async def history(self, number: str) -> list[ConsentEvent]:
        return await self._runner.run_in_reader(lambda c: history(c, number))

    async def page(self, *, after: str | None = None, limit: int = 100,
                   opted_out: bool | None = None) -> list[Contact]:
        def unit(conn: sqlite3.Connection) -> list[Contact]:
            where, params = ["number > ?"], [after or ""]
            if opted_out is not None:
                where.append("opted_out = ?")
                params.append(str(int(opted_out)))
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM msg_contacts WHERE {' AND '.join(where)}"
                " ORDER BY number LIMIT ?", (*params, limit)).fetchall()
            return [_contact(r) for r in rows]

        return await self._runner.run_in_reader(unit)

    # --- CSV ---------------------------------------------------------------------------------

    async def import_csv(self, text: str, *, source: str = Source.IMPORT) -> ImportReport:
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None:
            return ImportReport(0, 0, (ImportProblem(0, "", "empty", "the file is empty"),))
        header = [h.strip() for h in reader.fieldnames]
        if "number" not in header:
            return ImportReport(0, 0, (ImportProblem(0, "", "no_number_column",
                                                     "the first line needs a 'number' column"),))
        problems: list[ImportProblem] = []
        good: list[tuple[str, dict[str, Any]]] = []
        rows = 0
        for index, raw in enumerate(reader, start=1):
            rows += 1
            if rows > MAX_IMPORT_ROWS:
                problems.append(ImportProblem(index, "", "too_many_rows",
                                              f"at most {MAX_IMPORT_ROWS} rows per import"))
                break
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()
                   if isinstance(v, str)}
            number_in = row.get("number", "")
            number = self.quick(number_in)
            if number is None:
                problems.append(ImportProblem(index, number_in, "invalid_number",
                                              "not a number that can receive SMS"))
                continue
            extra = {k: v for k, v in row.items() if k not in _RESERVED and k and v}
            try:
                parsed: dict[str, Any] = {
                    "marketing": parse_consent(row.get("marketing", "")),
                    "transactional": parse_consent(row.get("transactional", "")),
                    "opted_out": parse_consent(row.get("opted_out", "")),
                    "language": row.get("language") or None,
                    "time_zone": check_zone(row["time_zone"]) if row.get("time_zone") else None,
                    "fields": extra,
                }
                check_fields(extra)
            except ValueError as exc:
                problems.append(ImportProblem(index, number_in, "invalid_value", str(exc)))
                continue
            good.append((number, parsed))
        now = self._now_ms()

        def _apply(conn: sqlite3.Connection, items: Sequence[tuple[str, dict[str, Any]]]) -> int:
            for number, p in items:
                set_profile(conn, number, now_ms=now, fields=p["fields"] or None,
                            language=p["language"], time_zone=p["time_zone"])
                for category, key in ((Category.MARKETING, "marketing"),
                                      (Category.TRANSACTIONAL, "transactional")):
                    if p[key] is not None:
                        set_consent(conn, number, category, p[key], source=source,
                                    detail="csv import", now_ms=now)
                if p["opted_out"] is not None:
                    set_opted_out(conn, number, p["opted_out"] is Consent.GRANTED, source=source,
                                  detail="csv import", now_ms=now)
            return len(items)

        imported = 0
        for part in chunks(good, 2000):
            imported += await self._runner.run_in_writer(functools.partial(_apply, items=part))
        return ImportReport(rows, imported, tuple(problems))

    async def export_csv(self) -> str:
        contacts: list[Contact] = []
        after: str | None = None
        while True:
            page = await self.page(after=after, limit=5000)
            contacts.extend(page)
            if len(page) < 5000:
                break
            after = page[-1].number
        return contacts_csv(contacts)


def contacts_csv(contacts: Iterable[Contact]) -> str:
    items = list(contacts)
    extra = sorted({k for c in items for k in c.fields})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*_RESERVED, *extra, "updated_at"])
    for c in items:
        writer.writerow([
            c.number, c.marketing.value if c.marketing else "",
            c.transactional.value if c.transactional else "", "yes" if c.opted_out else "no",
            c.language or "", c.time_zone or "",
            *[_csv_safe(c.fields.get(k, "")) for k in extra],
            c.updated_at.isoformat() if c.updated_at else "",
        ])
    return out.getvalue()


def _csv_safe(value: Any) -> str:
    """No spreadsheet formulas from customer-controlled data (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


__all__ = [
    "Consent",
    "ConsentEvent",
    "Contact",
    "Contacts",
    "ImportProblem",
    "ImportReport",
    "Source",
    "contacts_csv",
    "get_contact",
    "get_contacts",
    "history",
    "parse_consent",
    "set_consent",
    "set_opted_out",
    "set_profile",
]

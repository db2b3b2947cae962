"""SQL for the HTTP API's tables (migration 0002): keys, idempotent responses, webhooks, outbox.

Each function is a synchronous unit of work on a `sqlite3` connection, so the daemon runs them
through the store's group-commit writer (`SqliteStore.run_in_writer`) or a reader, and the
`smsgw keys` command runs them on a connection of its own beside a running daemon (WAL). The
`ApiStore` facade at the end is what the gateway calls.

The webhook fan-out reads the store's feeds (`transitions`, `inbound_messages`) inside the same
writer transaction that records the outbox rows and moves the feed cursor, so an event is either
fanned out with its cursor advanced or not at all; `dedupe` makes a repeated fan-out harmless.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from .api_models import (
    ApiKeyRecord,
    DeliveryRecord,
    DeliveryResult,
    InboundFeedRow,
    OutboxEntry,
    OutboxItem,
    StoredResponse,
    TransitionFeedRow,
    WebhookEndpoint,
)
from .errors import StoreError
from .models import MessageStatus
from .rows import from_ms, opt_dt, to_ms
from .sqlite_inbound import INBOUND_COLUMNS, inbound_from_row

T = TypeVar("T")
UnitOfWork = Callable[[sqlite3.Connection], T]

TRANSITIONS_FEED = "transitions"
INBOUND_FEED = "inbound"


class KeyNameTakenError(StoreError):
    def __init__(self, name: str) -> None:
        super().__init__(f"an active API key named {name!r} exists; revoke it first")
        self.name = name


# --- API keys ---------------------------------------------------------------------------------

_KEY_COLUMNS = "id, name, hash, salt, hint, scopes, rate_limit, created_at, revoked_at"


def _key(row: tuple[Any, ...]) -> ApiKeyRecord:
    id_, name, hash_, salt, hint, scopes, rate, created, revoked = row
    return ApiKeyRecord(
        id=int(id_),
        name=name,
        hash=hash_,
        salt=salt,
        hint=hint,
        scopes=frozenset(s for s in scopes.split(",") if s),
        rate_limit=None if rate is None else float(rate),
        created_at=from_ms(created),
        revoked_at=opt_dt(revoked),
    )


def insert_key(
    conn: sqlite3.Connection,
    *,
    name: str,
    hash: str,
    salt: str,
    hint: str,
    scopes: Sequence[str],
    rate_limit: float | None,
    now_ms: int,
) -> ApiKeyRecord:
    try:
        cur = conn.execute(
            "INSERT INTO api_keys (name, hash, salt, hint, scopes, rate_limit, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, hash, salt, hint, ",".join(scopes), rate_limit, now_ms),
        )
    except sqlite3.IntegrityError:
        raise KeyNameTakenError(name) from None
    row = conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?",
                       (cur.lastrowid,)).fetchone()
    return _key(row)


def key_by_hash(conn: sqlite3.Connection, key_hash: str) -> ApiKeyRecord | None:
    row = conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE hash = ?",
                       (key_hash,)).fetchone()
    return None if row is None else _key(row)


def key_by_name(conn: sqlite3.Connection, name: str) -> ApiKeyRecord | None:
    """The active key of that name, else the most recently revoked one."""
    row = conn.execute(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE name = ?"
        " ORDER BY revoked_at IS NULL DESC, id DESC LIMIT 1",
        (name,),
    ).fetchone()
    return None if row is None else _key(row)


def list_keys(conn: sqlite3.Connection, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
    sql = f"SELECT {_KEY_COLUMNS} FROM api_keys"
    if not include_revoked:
        sql += " WHERE revoked_at IS NULL"
    return [_key(r) for r in conn.execute(sql + " ORDER BY id").fetchall()]


def revoke_key(conn: sqlite3.Connection, name: str, now_ms: int) -> ApiKeyRecord | None:
    cur = conn.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
        (now_ms, name),
    )
    if cur.rowcount == 0:
        return None
    return key_by_name(conn, name)


# --- idempotent responses ---------------------------------------------------------------------


def get_response(
    conn: sqlite3.Connection, api_key: str, route: str, key: str, not_before_ms: int
) -> StoredResponse | None:
    row = conn.execute(
        "SELECT request_hash, status, content_type, body, created_at FROM api_idempotency"
        " WHERE api_key = ? AND route = ? AND key = ? AND created_at >= ?",
        (api_key, route, key, not_before_ms),
    ).fetchone()
    if row is None:
        return None
    return StoredResponse(row[0], int(row[1]), row[2], bytes(row[3]), from_ms(row[4]))


def put_response(
    conn: sqlite3.Connection,
    api_key: str,
    route: str,
    key: str,
    response: StoredResponse,
) -> None:
    # REPLACE: an expired row for the same key (not yet pruned) gives way to the new answer
    conn.execute(
        "INSERT OR REPLACE INTO api_idempotency (api_key, route, key, request_hash, status,"
        " content_type, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (api_key, route, key, response.request_hash, response.status, response.content_type,
         response.body, to_ms(response.created_at)),
    )


# --- webhook endpoints ------------------------------------------------------------------------

_ENDPOINT_COLUMNS = (
    "id, url, events, format, secret, api_key, description, enabled, disabled_reason, created_at"
)


def _endpoint(row: tuple[Any, ...]) -> WebhookEndpoint:
    id_, url, events, fmt, secret, api_key, description, enabled, reason, created = row
    return WebhookEndpoint(
        id=id_,
        url=url,
        events=tuple(e for e in events.split(",") if e),
        format=fmt,
        secret=secret,
        api_key=api_key,
        description=description,
        enabled=bool(enabled),
        disabled_reason=reason,
        created_at=from_ms(created),
    )


def insert_endpoint(conn: sqlite3.Connection, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    conn.execute(
        f"INSERT INTO webhook_endpoints ({_ENDPOINT_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (endpoint.id, endpoint.url, ",".join(endpoint.events), endpoint.format, endpoint.secret,
         endpoint.api_key, endpoint.description, int(endpoint.enabled), endpoint.disabled_reason,
         to_ms(endpoint.created_at)),
    )
    return endpoint


def get_endpoint(conn: sqlite3.Connection, endpoint_id: str) -> WebhookEndpoint | None:
    row = conn.execute(
        f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ? AND deleted_at IS NULL",
        (endpoint_id,),
    ).fetchone()
    return None if row is None else _endpoint(row)


def list_endpoints(conn: sqlite3.Connection, *, enabled_only: bool = False
                   ) -> list[WebhookEndpoint]:
    sql = f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE deleted_at IS NULL"
    if enabled_only:
        sql += " AND enabled = 1"
    return [_endpoint(r) for r in conn.execute(sql + " ORDER BY created_at, id").fetchall()]


def delete_endpoint(conn: sqlite3.Connection, endpoint_id: str, now_ms: int) -> bool:
    """Soft delete (its deliveries stay listable); deliveries still pending are canceled."""
    cur = conn.execute(
        "UPDATE webhook_endpoints SET deleted_at = ?, enabled = 0 WHERE id = ?"
        " AND deleted_at IS NULL",
        (now_ms, endpoint_id),
    )
    if cur.rowcount == 0:
        return False
    _cancel_pending(conn, endpoint_id, "endpoint deleted", now_ms)
    return True


def _cancel_pending(conn: sqlite3.Connection, endpoint_id: str, why: str, now_ms: int) -> None:
    conn.execute(
        "UPDATE webhook_outbox SET state = 'canceled', last_error = ?, updated_at = ?"
        " WHERE endpoint_id = ? AND state = 'pending'",
        (why, now_ms, endpoint_id),
    )


# --- fan-out ----------------------------------------------------------------------------------

TransitionBuilder = Callable[[Sequence[TransitionFeedRow], Sequence[WebhookEndpoint]],
                             list[OutboxEntry]]
InboundBuilder = Callable[[Sequence[InboundFeedRow], Sequence[WebhookEndpoint]], list[OutboxEntry]]
EndpointBuilder = Callable[[Sequence[WebhookEndpoint]], list[OutboxEntry]]


def _cursor(conn: sqlite3.Connection, feed: str) -> int:
    row = conn.execute("SELECT position FROM webhook_cursors WHERE feed = ?", (feed,)).fetchone()
    return 0 if row is None else int(row[0])


def _advance(conn: sqlite3.Connection, feed: str, position: int) -> None:
    conn.execute(
        "INSERT INTO webhook_cursors (feed, position) VALUES (?, ?)"
        " ON CONFLICT (feed) DO UPDATE SET position = excluded.position",
        (feed, position),
    )


def insert_entries(conn: sqlite3.Connection, entries: Sequence[OutboxEntry], now_ms: int) -> int:
    added = 0
    for e in entries:
        cur = conn.execute(
            "INSERT OR IGNORE INTO webhook_outbox (dedupe, event_id, event_type, endpoint_id,"
            " target, format, payload, signer, state, attempts, next_attempt_at, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
            (e.dedupe, e.event_id, e.event_type, e.endpoint_id, e.target, e.format, e.payload,
             e.signer, now_ms, now_ms, now_ms),
        )
        added += cur.rowcount
    return added


def _metadata(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def fanout_transitions(
    conn: sqlite3.Connection, build: TransitionBuilder, limit: int, now_ms: int
) -> tuple[int, int]:
    """Turn up to `limit` new transitions into outbox rows; returns (read, recorded)."""
    after = _cursor(conn, TRANSITIONS_FEED)
    page = conn.execute(
        "SELECT count(*), max(id) FROM (SELECT id FROM transitions WHERE id > ?"
        " ORDER BY id LIMIT ?)",
        (after, limit),
    ).fetchone()
    read, upper = int(page[0]), page[1]
    if not read:
        return 0, 0
    # a message's first status (from_status NULL) is never an event: leave those rows unread
    rows = conn.execute(
        "SELECT t.id, m.id, t.from_status, t.to_status, t.at, t.modem_id, t.error_code,"
        " t.error_class, t.detail, m.to_number, m.status_callback, m.metadata, m.api_key,"
        " m.segments FROM transitions t JOIN messages m ON m.seq = t.message_seq"
        " WHERE t.id > ? AND t.id <= ? AND t.from_status IS NOT NULL ORDER BY t.id",
        (after, upper),
    ).fetchall()
    feed = [
        TransitionFeedRow(
            transition_id=int(r[0]),
            message_id=r[1],
            from_status=None if r[2] is None else MessageStatus(r[2]),
            to_status=MessageStatus(r[3]),
            at=from_ms(r[4]),
            modem_id=r[5],
            error_code=r[6],
            error_class=r[7],
            detail=r[8],
            to=r[9],
            status_callback=r[10],
            metadata=_metadata(r[11]),
            api_key=r[12],
            segments=int(r[13]),
        )
        for r in rows
    ]
    recorded = 0
    if feed:
        recorded = insert_entries(conn, build(feed, list_endpoints(conn, enabled_only=True)),
                                  now_ms)
    _advance(conn, TRANSITIONS_FEED, int(upper))
    return read, recorded


def fanout_inbound(
    conn: sqlite3.Connection, build: InboundBuilder, limit: int, now_ms: int
) -> tuple[int, int]:
    after = _cursor(conn, INBOUND_FEED)
    rows = conn.execute(
        f"SELECT {INBOUND_COLUMNS} FROM inbound_messages WHERE seq > ? ORDER BY seq LIMIT ?",
        (after, limit),
    ).fetchall()
    if not rows:
        return 0, 0
    feed = [InboundFeedRow(int(r[0]), inbound_from_row(r)) for r in rows]
    entries = build(feed, list_endpoints(conn, enabled_only=True))
    recorded = insert_entries(conn, entries, now_ms)
    _advance(conn, INBOUND_FEED, feed[-1].seq)
    return len(feed), recorded


def fanout_endpoints(conn: sqlite3.Connection, build: EndpointBuilder, now_ms: int) -> int:
    """Record an event that has no feed (modem health) for the endpoints that want it."""
    return insert_entries(conn, build(list_endpoints(conn, enabled_only=True)), now_ms)


# --- delivery ---------------------------------------------------------------------------------

_OUTBOX_COLUMNS = (
    "id, event_id, event_type, endpoint_id, target, format, payload, signer, attempts, created_at"
)


def due_items(
    conn: sqlite3.Connection, now_ms: int, limit: int, exclude: Sequence[int] = ()
) -> list[OutboxItem]:
    params: list[Any] = [now_ms]
    sql = f"SELECT {_OUTBOX_COLUMNS} FROM webhook_outbox WHERE state = 'pending'" \
          " AND next_attempt_at <= ?"
    if exclude:
        sql += f" AND id NOT IN ({','.join('?' * len(exclude))})"
        params.extend(exclude)
    sql += " ORDER BY next_attempt_at, id LIMIT ?"
    params.append(limit)
    return [
        OutboxItem(
            id=int(r[0]), event_id=r[1], event_type=r[2], endpoint_id=r[3], target=r[4],
            format=r[5], payload=r[6], signer=r[7], attempts=int(r[8]), created_at=from_ms(r[9]),
        )
        for r in conn.execute(sql, params).fetchall()
    ]


def next_due(conn: sqlite3.Connection) -> datetime | None:
    row = conn.execute(
        "SELECT min(next_attempt_at) FROM webhook_outbox WHERE state = 'pending'"
    ).fetchone()
    return None if row is None or row[0] is None else from_ms(int(row[0]))


def record_results(
    conn: sqlite3.Connection, results: Sequence[DeliveryResult], now_ms: int
) -> None:
    for r in results:
        next_ms = None if r.next_attempt_at is None else to_ms(r.next_attempt_at)
        conn.execute(
            "UPDATE webhook_outbox SET state = ?, attempts = attempts + 1, last_status = ?,"
            " last_error = ?, next_attempt_at = coalesce(?, next_attempt_at), updated_at = ?"
            " WHERE id = ? AND state = 'pending'",
            (r.state, r.status, r.error, next_ms, now_ms, r.item_id),
        )
        if r.disable_endpoint is not None:
            conn.execute(
                "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ? WHERE id = ?",
                (r.error or "410 Gone", r.disable_endpoint),
            )
            _cancel_pending(conn, r.disable_endpoint, "endpoint disabled (410 Gone)", now_ms)


def list_deliveries(
    conn: sqlite3.Connection, endpoint_id: str | None, limit: int
) -> list[DeliveryRecord]:
    sql = (
        "SELECT id, event_id, event_type, endpoint_id, state, attempts, last_status, last_error,"
        " next_attempt_at, created_at, updated_at FROM webhook_outbox"
    )
    params: list[Any] = []
    if endpoint_id is not None:
        sql += " WHERE endpoint_id = ?"
        params.append(endpoint_id)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return [
        DeliveryRecord(
            id=int(r[0]), event_id=r[1], event_type=r[2], endpoint_id=r[3], state=r[4],
            attempts=int(r[5]), last_status=r[6], last_error=r[7],
            next_attempt_at=opt_dt(r[8]) if r[4] == "pending" else None,
            created_at=from_ms(r[9]), updated_at=from_ms(r[10]),
        )
        for r in conn.execute(sql, params).fetchall()
    ]


def prune(conn: sqlite3.Connection, *, responses_before_ms: int, outbox_before_ms: int
          ) -> dict[str, int]:
    responses = conn.execute(
        "DELETE FROM api_idempotency WHERE created_at < ?", (responses_before_ms,)
    ).rowcount
    outbox = conn.execute(
        "DELETE FROM webhook_outbox WHERE state != 'pending' AND updated_at < ?",
        (outbox_before_ms,),
    ).rowcount
    return {"api_idempotency": responses, "webhook_outbox": outbox}


# --- the facade the gateway uses ----------------------------------------------------------------


class UnitRunner(Protocol):
    """What `SqliteStore` offers modules with tables of their own."""

    async def run_in_writer(self, fn: UnitOfWork[T]) -> T: ...

    async def run_in_reader(self, fn: UnitOfWork[T]) -> T: ...


class ApiStore:
    """Async access to the API's tables through the store's writer (durable on return) and
    readers. Times come from the caller, so tests can move them."""

    def __init__(self, runner: UnitRunner) -> None:
        self._runner = runner

    async def key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        return await self._runner.run_in_reader(lambda c: key_by_hash(c, key_hash))

    async def key_by_name(self, name: str) -> ApiKeyRecord | None:
        return await self._runner.run_in_reader(lambda c: key_by_name(c, name))

    async def get_response(self, api_key: str, route: str, key: str, not_before: datetime
                           ) -> StoredResponse | None:
        floor = to_ms(not_before)
        return await self._runner.run_in_reader(
            lambda c: get_response(c, api_key, route, key, floor)
        )

    async def put_response(self, api_key: str, route: str, key: str, response: StoredResponse
                           ) -> None:
        await self._runner.run_in_writer(lambda c: put_response(c, api_key, route, key, response))

    async def add_endpoint(self, endpoint: WebhookEndpoint) -> WebhookEndpoint:
        return await self._runner.run_in_writer(lambda c: insert_endpoint(c, endpoint))

    async def get_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        return await self._runner.run_in_reader(lambda c: get_endpoint(c, endpoint_id))

    async def list_endpoints(self) -> list[WebhookEndpoint]:
        return await self._runner.run_in_reader(list_endpoints)

    async def delete_endpoint(self, endpoint_id: str, now: datetime) -> bool:
        now_ms = to_ms(now)
        return await self._runner.run_in_writer(lambda c: delete_endpoint(c, endpoint_id, now_ms))

    async def fanout_transitions(self, build: TransitionBuilder, limit: int, now: datetime
                                 ) -> tuple[int, int]:
        now_ms = to_ms(now)
        return await self._runner.run_in_writer(
            lambda c: fanout_transitions(c, build, limit, now_ms)
        )

    async def fanout_inbound(self, build: InboundBuilder, limit: int, now: datetime
                             ) -> tuple[int, int]:
        now_ms = to_ms(now)
        return await self._runner.run_in_writer(lambda c: fanout_inbound(c, build, limit, now_ms))

    async def fanout_endpoints(self, build: EndpointBuilder, now: datetime) -> int:
        now_ms = to_ms(now)
        return await self._runner.run_in_writer(lambda c: fanout_endpoints(c, build, now_ms))

    async def add_entries(self, entries: Sequence[OutboxEntry], now: datetime) -> int:
        now_ms = to_ms(now)
        batch = list(entries)
        return await self._runner.run_in_writer(lambda c: insert_entries(c, batch, now_ms))

    async def due_items(self, now: datetime, limit: int, exclude: Sequence[int] = ()
                        ) -> list[OutboxItem]:
        now_ms = to_ms(now)
        skip = list(exclude)
        return await self._runner.run_in_reader(lambda c: due_items(c, now_ms, limit, skip))

    async def next_due(self) -> datetime | None:
        return await self._runner.run_in_reader(next_due)

    async def record_results(self, results: Sequence[DeliveryResult], now: datetime) -> None:
        now_ms = to_ms(now)
        batch = list(results)
        await self._runner.run_in_writer(lambda c: record_results(c, batch, now_ms))

    async def list_deliveries(self, endpoint_id: str | None, limit: int = 50
                              ) -> list[DeliveryRecord]:
        return await self._runner.run_in_reader(
            lambda c: list_deliveries(c, endpoint_id, limit)
        )

    async def prune(self, *, responses_before: datetime, outbox_before: datetime
                    ) -> dict[str, int]:
        r_ms, o_ms = to_ms(responses_before), to_ms(outbox_before)
        return await self._runner.run_in_writer(
            lambda c: prune(c, responses_before_ms=r_ms, outbox_before_ms=o_ms)
        )


__all__ = [
    "INBOUND_FEED",
    "TRANSITIONS_FEED",
    "ApiStore",
    "KeyNameTakenError",
    "UnitRunner",
    "delete_endpoint",
    "due_items",
    "fanout_endpoints",
    "fanout_inbound",
    "fanout_transitions",
    "get_endpoint",
    "get_response",
    "insert_endpoint",
    "insert_entries",
    "insert_key",
    "key_by_hash",
    "key_by_name",
    "list_deliveries",
    "list_endpoints",
    "list_keys",
    "next_due",
    "prune",
    "put_response",
    "record_results",
    "revoke_key",
]

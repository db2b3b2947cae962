"""The SQLite store on a real file: schema, pragmas, locking, group commit, durability."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.store import (
    IdempotencyConflictError,
    InvalidMessageError,
    MessageQuery,
    MessageStatus,
    NotCancelableError,
    NotFoundError,
    SchemaError,
    SqliteStore,
    StoreClosedError,
    StoreLockedError,
)
from gateway.store.ids import IdGenerator, _encode, _encode_random, id_time
from gateway.store.migrations import load_migrations
from gateway.store.models import Category, Lane
from tests.gateway.gwhelpers import FakeClock, StoreFactory, msg


async def test_fresh_database_gets_every_migration(store: SqliteStore, db_path: Path) -> None:
    latest = load_migrations()[-1].version
    with sqlite3.connect(db_path) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert versions == list(range(1, latest + 1))
    assert {"messages", "parts", "transitions", "inbound_parts", "concat_refs"} <= tables
    assert mode == "wal"


async def test_writer_commits_with_synchronous_full(store: SqliteStore) -> None:
    level = await store.run_in_writer(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
    assert level == 2  # FULL


async def test_reopening_is_idempotent_and_keeps_data(open_store: StoreFactory,
                                                      clock: FakeClock) -> None:
    first = await open_store()
    accepted = await first.enqueue(msg())
    await first.close()
    second = await open_store()
    detail = await second.get_message(accepted.message.id)
    assert detail is not None and detail.message.status is MessageStatus.QUEUED


async def test_newer_schema_is_refused(db_path: Path, open_store: StoreFactory) -> None:
    s = await open_store()
    await s.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (999, 'future', 0)")
    with pytest.raises(SchemaError, match="newer than this smsgw"):
        await open_store()


async def test_second_process_on_the_same_file_is_refused(store: SqliteStore,
                                                         db_path: Path) -> None:
    with pytest.raises(StoreLockedError):
        await SqliteStore.open(db_path)


async def test_group_commit_batches_concurrent_writers(store: SqliteStore,
                                                       db_path: Path) -> None:
    before = store.commits
    results = await asyncio.gather(*(store.enqueue(msg(text=f"m{i}")) for i in range(300)))
    assert len({r.message.id for r in results}) == 300
    assert store.commits - before < 300  # many callers shared a commit
    # Every acknowledged message is visible to an independent connection: it is on disk.
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 300
        assert conn.execute("SELECT count(*) FROM transitions").fetchone()[0] == 300


async def test_one_failing_unit_does_not_fail_its_batch(store: SqliteStore) -> None:
    def boom(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO concat_refs VALUES ('x', 1)")
        raise RuntimeError("unit failed")

    outcomes = await asyncio.gather(
        store.enqueue(msg(text="a")),
        store.run_in_writer(boom),
        store.enqueue(msg(text="b")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], RuntimeError)
    assert not isinstance(outcomes[0], BaseException)
    assert not isinstance(outcomes[2], BaseException)
    rows = await store.run_in_reader(
        lambda c: c.execute("SELECT count(*) FROM concat_refs").fetchone()[0]
    )
    assert rows == 0  # the failed unit's own write was rolled back
    page = await store.list_messages(MessageQuery())
    assert sorted(m.text for m in page.messages) == ["a", "b"]


async def test_closed_store_refuses_writes(open_store: StoreFactory) -> None:
    s = await open_store()
    await s.close()
    with pytest.raises(StoreClosedError):
        await s.enqueue(msg())


async def test_ids_sort_by_creation_and_carry_their_time() -> None:
    gen = IdGenerator()
    ids = [gen.new(1_700_000_000_000) for _ in range(1000)] + [gen.new(1_700_000_000_001)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert id_time(ids[0]).timestamp() == 1_700_000_000


@given(st.integers(0, (1 << 48) - 1), st.integers(0, (1 << 79) - 1))
def test_an_id_is_the_ulid_encoding_of_its_time_and_random_bits(ms: int, random: int) -> None:
    """The generator's per-millisecond prefix and unrolled tail spell exactly what the plain
    encoder spells for the whole 128-bit value."""
    gen = IdGenerator()
    gen.new(ms - 1 if ms else 0)  # a cached prefix from another millisecond must not leak
    made = gen.new(ms)
    value = (ms << 80) | int(gen._last_random)
    assert made == _encode(value) and len(made) == 26
    assert _encode((ms << 80) | random)[10:] == _encode_random(random)


async def test_enqueue_records_history_and_parts(store: SqliteStore) -> None:
    accepted = await store.enqueue(
        msg(segments=3, metadata={"order": 7}, status_callback="http://x")
    )
    detail = await store.get_message(accepted.message.id)
    assert detail is not None
    assert [p.seq for p in detail.parts] == [1, 2, 3]
    assert len({p.concat_ref for p in detail.parts}) == 1  # one reference for all parts
    assert detail.parts[0].concat_ref is not None
    assert [(t.from_status, t.to_status) for t in detail.history] == [(None, MessageStatus.QUEUED)]
    assert detail.message.metadata == {"order": 7}


async def test_concat_refs_differ_for_parallel_long_messages_and_wrap(store: SqliteStore) -> None:
    refs = []
    for _ in range(300):
        accepted = await store.enqueue(msg(segments=2))
        detail = await store.get_message(accepted.message.id)
        assert detail is not None
        refs.append(detail.parts[0].concat_ref)
    assert all(r is not None and 0 <= r <= 255 for r in refs)
    assert len(set(refs[:256])) == 256  # 256 in flight to one number: all distinct
    assert refs[256] == refs[0]  # then the 8-bit reference wraps
    other = await store.enqueue(msg(to="+447911654321", segments=2))
    assert (await store.get_message(other.message.id)) is not None


async def test_idempotency_replays_or_conflicts(store: SqliteStore) -> None:
    first = await store.enqueue(msg(idempotency_key="k1", request_hash="h1", api_key="key"))
    again = await store.enqueue(msg(idempotency_key="k1", request_hash="h1", api_key="key"))
    assert again.created is False and again.message.id == first.message.id
    with pytest.raises(IdempotencyConflictError):
        await store.enqueue(msg(idempotency_key="k1", request_hash="other", api_key="key"))
    other_key = await store.enqueue(msg(idempotency_key="k1", request_hash="x", api_key="key2"))
    assert other_key.created


async def test_batch_enqueue_refuses_individually(store: SqliteStore) -> None:
    results = await store.enqueue_many([msg(text="ok"), msg(segments=0), msg(text="ok2")])
    assert isinstance(results[1], InvalidMessageError)
    assert [r.message.text for r in results if not isinstance(r, Exception)] == ["ok", "ok2"]


async def test_one_batch_stores_each_message_with_its_own_parts_and_history(
        store: SqliteStore) -> None:
    """The batch path writes each table with one statement for the whole batch: every message
    must still get exactly its own parts, concat reference and first transition."""
    batch = [msg(to=f"+44791112{i:04d}", text=f"m{i}", segments=1 + i % 3) for i in range(40)]
    batch.insert(7, msg(segments=0))  # refused in the middle: the rows after it still line up
    results = await store.enqueue_many(batch)
    assert isinstance(results[7], InvalidMessageError)
    for new, result in zip(batch, results, strict=True):
        if isinstance(result, Exception):
            continue
        detail = await store.get_message(result.message.id)
        assert detail is not None
        assert (detail.message.to, detail.message.text) == (new.to, new.text)
        assert [p.seq for p in detail.parts] == list(range(1, new.segments + 1))
        refs = {p.concat_ref for p in detail.parts}
        assert (refs == {None}) if new.segments == 1 else (len(refs) == 1 and None not in refs)
        assert [(t.from_status, t.to_status) for t in detail.history] == [
            (None, MessageStatus.QUEUED)]


async def test_a_key_used_twice_in_one_batch_acts_as_two_calls(store: SqliteStore) -> None:
    same = msg(idempotency_key="k", request_hash="h", api_key="key")
    other = msg(idempotency_key="k", request_hash="different", api_key="key")
    first, replay, conflict = await store.enqueue_many([same, same, other])
    assert not isinstance(first, Exception) and first.created
    assert not isinstance(replay, Exception)
    assert replay.created is False and replay.message.id == first.message.id
    assert isinstance(conflict, IdempotencyConflictError)
    assert conflict.message_id == first.message.id
    counts = await store.counts_by_status()
    assert counts == {"queued": 1}


async def test_scheduled_and_cancel(store: SqliteStore, clock: FakeClock) -> None:
    later = await store.enqueue(msg(send_at=clock.now.replace(hour=13)))
    assert later.message.status is MessageStatus.SCHEDULED
    canceled = await store.cancel(later.message.id)
    assert canceled.status is MessageStatus.CANCELED
    with pytest.raises(NotCancelableError):
        await store.cancel(later.message.id)
    with pytest.raises(NotFoundError):
        await store.cancel("01ARZ3NDEKTSV4RRFFQ69G5FAV")


async def test_list_messages_filters_and_pages(store: SqliteStore, clock: FakeClock) -> None:
    for i in range(5):
        await store.enqueue(msg(to="+447911123456" if i % 2 else "+447911654321", text=str(i)))
        clock.advance(1)
    page = await store.list_messages(MessageQuery(limit=2))
    assert [m.text for m in page.messages] == ["4", "3"]
    assert page.next_cursor is not None
    rest = await store.list_messages(MessageQuery(limit=10, cursor=page.next_cursor))
    assert [m.text for m in rest.messages] == ["2", "1", "0"] and rest.next_cursor is None
    to = await store.list_messages(MessageQuery(to="+447911123456"))
    assert [m.text for m in to.messages] == ["3", "1"]
    since = await store.list_messages(MessageQuery(since=clock.now.replace(second=2)))
    assert [m.text for m in since.messages] == ["4", "3", "2"]


async def test_a_batch_fits_an_old_sqlites_parameter_limit(store: SqliteStore) -> None:
    """SQLite before 3.32 allows 999 host parameters per statement: the chunks shrink to fit.
    Here the limit leaves room for 4 rows, so 11 messages go in as chunks of 4, 4, 2 and 1."""
    await store.run_in_writer(lambda c: c.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100))
    made = await store.enqueue_many([msg(text=f"m{i}", segments=1 + i % 3) for i in range(11)])
    ids = [m.message.id for m in made if not isinstance(m, Exception)]
    rows = await store.run_in_writer(lambda c: c.execute(
        "SELECT id, text, (SELECT count(*) FROM parts WHERE message_seq = m.seq),"
        " (SELECT count(*) FROM transitions WHERE message_seq = m.seq)"
        " FROM messages AS m ORDER BY seq").fetchall())
    assert [r[0] for r in rows] == ids
    assert [(r[1], r[2], r[3]) for r in rows] == [(f"m{i}", 1 + i % 3, 1) for i in range(11)]


async def test_a_batch_stores_exactly_what_one_at_a_time_stores(store: SqliteStore,
                                                                clock: FakeClock) -> None:
    """The batch insert writes its rows in multi-row chunks of a power of two; every column
    must come back as a message stored alone (a chunk of one) stores it, in order, for any
    text: quotes, backslashes, emoji, line separators, a NUL, something that merely looks like
    an escaped NUL, and a batch size that needs chunks of several sizes."""
    texts = ['say "hi"', "back\\slash", "emoji 😀 and ü", "line\u2028sep\nnew", "nul\x00inside",
             "looks like \\u0000", "tab\there", "{\"json\": [1, 2]}", "x" * 500]
    extra: dict[str, Any] = {
        "category": Category.TRANSACTIONAL, "pool": "carrier:vodafone", "carrier": "Vodafone",
        "api_key": "key", "status_callback": "https://example.com/cb",
        "metadata": {"order": 17, "note": "ünïcode \x00"},
        "send_at": clock.now + timedelta(hours=1), "expires_at": clock.now + timedelta(hours=5),
        "request_status_report": False,
    }
    chosen = texts * 8 + [texts[0]]  # 73 messages: chunks of 64, 8 and 1
    batch = [msg(text=t, segments=1 + i % 2, lane=Lane.HIGH, **extra)
             for i, t in enumerate(chosen)]
    batched = await store.enqueue_many(batch)
    single = [await store.enqueue(new) for new in batch]
    for new, one, alone in zip(batch, batched, single, strict=True):
        assert not isinstance(one, Exception)
        a = await store.get_message(one.message.id)
        b = await store.get_message(alone.message.id)
        assert a is not None and b is not None
        assert a.message.text == b.message.text == new.text
        assert replace(a.message, id="", created_at=b.message.created_at,
                       updated_at=b.message.updated_at, metadata=None) == replace(
            b.message, id="", metadata=None)
        assert a.message.metadata == b.message.metadata == {"order": 17,
                                                            "note": "ünïcode \x00"}
        assert [(p.seq, p.status) for p in a.parts] == [(p.seq, p.status) for p in b.parts]
        assert [(t.from_status, t.to_status) for t in a.history] == [
            (t.from_status, t.to_status) for t in b.history]

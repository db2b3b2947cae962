"""`smsgw backup PATH` copies the store while a writer commits to it: every copy is one
consistent snapshot (each message with all its parts and its first transition), passes
integrity_check, opens as a store, and failures leave no file behind."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.backup import BackupError, backup
from gateway.cli import main
from gateway.store import SqliteStore

REPO = Path(__file__).resolve().parents[2]


def consistency(copy: Path) -> tuple[int, list[str]]:
    """(messages, problems): what a torn copy would show."""
    conn = sqlite3.connect(copy)
    try:
        messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        problems = [
            f"message {seq}: {parts} parts for {segments} segments, {moves} transitions"
            for seq, segments, parts, moves in conn.execute(
                "SELECT m.seq, m.segments,"
                " (SELECT count(*) FROM parts p WHERE p.message_seq = m.seq),"
                " (SELECT count(*) FROM transitions t WHERE t.message_seq = m.seq)"
                " FROM messages m"
            )
            if parts != segments or moves < 1
        ]
        orphans = conn.execute(
            "SELECT count(*) FROM parts WHERE message_seq NOT IN (SELECT seq FROM messages)"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} parts without their message")
        return messages, problems
    finally:
        conn.close()


async def test_backups_of_a_live_store_are_consistent_snapshots(tmp_path: Path) -> None:
    db = tmp_path / "state" / "smsgw.db"
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.system.live_writer", str(db)], cwd=REPO,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline().strip() == "ready"
        counts = []
        for n in range(4):
            result = backup(db, tmp_path / f"copy{n}.db")
            assert result.rows["messages"] > 0
            messages, problems = consistency(result.destination)
            assert problems == [] and messages == result.rows["messages"]
            counts.append(messages)
            assert (result.destination.stat().st_mode & 0o777) == 0o600
        writer.stdin.close()
        assert writer.wait(timeout=30) == 0
        total = int(writer.stdout.read().split()[-1])
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert counts == sorted(counts) and counts[-1] <= total
    assert counts[0] < total, "the writer kept committing while the copies were taken"
    # the copy is a complete store: one file, no -wal needed, opens and reads
    last = tmp_path / "copy3.db"
    assert not Path(f"{last}-wal").exists()
    store = await SqliteStore.open(last)
    try:
        assert store.recovery is not None
    finally:
        await store.close()


def test_the_command_line_takes_the_store_from_the_config(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    db = tmp_path / "smsgw.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE messages (seq INTEGER PRIMARY KEY)")
    conn.execute("INSERT INTO messages DEFAULT VALUES")
    conn.commit()
    conn.close()
    keyring = tmp_path / "smsgw.db.keyring"
    keyring.write_text("ab" * 32 + "\n")
    config = tmp_path / "smsgw.toml"
    config.write_text(f'[store]\npath = "{db}"\n')
    out = tmp_path / "backups"
    out.mkdir()
    assert main(["backup", str(out), "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    made, made_keyring = sorted(out.iterdir())
    assert made.name.startswith("smsgw-") and made.suffix == ".db"
    assert f"{made}:" in printed and "integrity ok (messages 1)" in printed
    # the keyring the API keys are derived from goes with it, readable by its owner only
    assert made_keyring.name == made.name + ".keyring"
    assert made_keyring.read_bytes() == keyring.read_bytes()
    assert made_keyring.stat().st_mode & 0o777 == 0o600
    # an existing file is not replaced without --force
    assert main(["backup", str(made), "--db", str(db)]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["backup", str(made), "--db", str(db), "--force"]) == 0


def test_a_missing_or_corrupt_store_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no database"):
        backup(tmp_path / "absent.db", tmp_path / "copy.db")
    assert not (tmp_path / "absent.db").exists()  # never created by the attempt
    bad = tmp_path / "bad.db"
    conn = sqlite3.connect(bad)
    conn.execute("CREATE TABLE t (v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [("x" * 200,) for _ in range(3000)])
    conn.execute("CREATE INDEX t_v ON t (v)")
    conn.commit()
    conn.close()
    with bad.open("r+b") as handle:
        handle.seek(4096 * 4)
        handle.write(os.urandom(4096 * 4))
    with pytest.raises(BackupError):
        backup(bad, tmp_path / "copy.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.db"]

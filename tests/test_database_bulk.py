"""``Database.bulk_session``: commits like ``session()``, checkpoints off the writer's commit."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from plugin.storage.checkpoints import DEFAULT_AUTOCHECKPOINT
from plugin.storage.database import Database


def _autocheckpoints(db: Database) -> set[int]:
    """wal_autocheckpoint of every connection the pool holds (checked out one by one)."""
    conns = [db.engine.connect() for _ in range(3)]
    try:
        return {c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() for c in conns}
    finally:
        for c in conns:
            c.close()


def test_bulk_writes_commit_and_get_checkpointed_in_the_background(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'bulk.db'}")
    with db.session() as s:
        s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    checkpointer = db._checkpointer
    assert checkpointer is not None
    for page in range(5):
        with db.bulk_session() as s:
            s.connection().exec_driver_sql(
                "INSERT INTO t (v) VALUES " + ", ".join(["(?)"] * 500),
                tuple(f"{page}-{i}-" + "x" * 200 for i in range(500)))
    with db.engine.connect() as other:  # committed: another connection sees every row
        assert other.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2500
    # 2,500 rows are ~150 pages, far below any autocheckpoint threshold: only the background
    # checkpointer copies them from the log into the database file
    path = tmp_path / "bulk.db"
    deadline = time.monotonic() + 10
    while path.stat().st_size < 500_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checkpointer.runs >= 1
    assert path.stat().st_size >= 500_000
    assert _autocheckpoints(db) == {DEFAULT_AUTOCHECKPOINT}  # no connection keeps 16384
    db.dispose()


def test_a_failed_bulk_session_rolls_back_and_restores_the_connection(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'bulk.db'}")
    with db.session() as s:
        s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    with pytest.raises(RuntimeError), db.bulk_session() as s:
        s.execute(text("INSERT INTO t (v) VALUES ('lost')"))
        raise RuntimeError("page refused half way")
    with db.session() as s:
        assert s.execute(text("SELECT count(*) FROM t")).scalar() == 0
    assert _autocheckpoints(db) == {DEFAULT_AUTOCHECKPOINT}
    db.dispose()


def test_bulk_session_is_a_plain_session_without_a_sqlite_file(tmp_path) -> None:
    db = Database("sqlite://")  # in memory: no WAL, nothing to checkpoint
    assert db._checkpointer is None
    with db.bulk_session() as s:
        assert s.execute(text("SELECT 1")).scalar() == 1
    db.dispose()

"""Migration 0012 on SQLite and PostgreSQL: rows received before it get their hash key, the
lookups by hash find them afterwards, and the downgrade restores the old index."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text

from plugin.storage.database import MIGRATIONS, Database
from plugin.storage.received_store import ReceivedStore, hash_key, hash_keys


def _alembic(engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def _indexes(engine) -> set[str]:
    return {ix["name"] for ix in inspect(engine).get_indexes("fed_received")}


def test_hash_keys_are_filled_in_and_found(any_db_url) -> None:
    engine = create_engine(any_db_url)
    config = _alembic(engine)
    command.upgrade(config, "0010")  # the federation branch just before hash keys
    values = [f"{i:064x}" for i in range(7)]
    peer_id = 7
    with engine.begin() as conn:
        for n, value in enumerate(values):
            conn.execute(text(
                "INSERT INTO fed_received (peer_id, record_id, type, hash_type, hash_value, "
                "category, bank, state, record, received_at) VALUES (:p, :r, 'hash', 'pdq', "
                ":v, 'ncii', 'peer:b.test:ncii', 'active', '{}', CURRENT_TIMESTAMP)"),
                {"p": peer_id, "r": f"rec-{n}", "v": value})
        conn.execute(text(
            "INSERT INTO fed_received (peer_id, record_id, type, state, record, received_at) "
            "VALUES (:p, 'consent-1', 'consent', 'stored', '{}', CURRENT_TIMESTAMP)"),
            {"p": peer_id})
    assert "ix_fed_received_hash" in _indexes(engine)

    command.upgrade(config, "heads")
    assert "ix_fed_received_hash_key" in _indexes(engine)
    assert "ix_fed_received_hash" not in _indexes(engine)
    with engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT record_id, hash_key FROM fed_received")).all())
    assert keys == {**{f"rec-{n}": hash_key("pdq", v) for n, v in enumerate(values)},
                    "consent-1": None}
    store = ReceivedStore(Database(any_db_url))
    found = store.received_active_keys(
        peer_id, hash_keys([("pdq", values[3]), ("pdq", "e" * 64)]))
    assert found == [("pdq", values[3], "ncii", "rec-3")]
    assert [r["record_id"] for r in store.received_active_for(peer_id, [("pdq", values[5])])] \
        == ["rec-5"]
    store.db.dispose()

    command.downgrade(config, "0010")
    assert "ix_fed_received_hash" in _indexes(engine)
    assert "hash_key" not in {c["name"] for c in inspect(engine).get_columns("fed_received")}
    engine.dispose()

"""KeyValueStore: small durable state such as the cursors of periodic jobs."""

from __future__ import annotations

from typing import Any

from plugin.storage.database import Database
from plugin.storage.models import KeyValue, utcnow


class KeyValueStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def kv_get(self, key: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.get(KeyValue, key)
            return dict(row.value) if row else None

    def kv_set(self, key: str, value: dict[str, Any]) -> None:
        with self.db.session() as s:
            row = s.get(KeyValue, key)
            if row is None:
                s.add(KeyValue(key=key, value=value))
            else:
                row.value, row.updated_at = value, utcnow()

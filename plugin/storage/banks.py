"""BankStore: hash banks, their entries, and the change log matchers replay.

Nothing is deleted: removing an entry stamps a tombstone (who, when, why) and appends a
``remove`` change; re-adding the same hash clears the tombstone and appends an ``add``.
Every worker's matcher replays ``changes_since(seq)`` to stay current without a rebuild.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, tuple_

from plugin.errors import BadRequest, Conflict, NotFound
from plugin.hashing.types import hash_type
from plugin.storage.database import Database
from plugin.storage.models import Bank, BankChange, BankEntry, utcnow

CATEGORIES = ("csam", "ncii", "nonconsensual_ai_edit", "terror", "spam", "other")
VISIBILITIES = ("private", "peers", "vetted")


@dataclass(frozen=True)
class ActiveEntry:
    entry_id: int
    bank_id: int
    bank: str
    category: str
    hash_type: str
    value: str
    note: str | None


@dataclass(frozen=True)
class EntryInput:
    hash_type: str
    value: str
    note: str | None = None
    source: str = "local"


def bank_to_dict(bank: Bank) -> dict[str, Any]:
    return {"id": bank.id, "name": bank.name, "category": bank.category,
            "visibility": bank.visibility, "enabled": bank.enabled,
            "shareable": bank.shareable, "description": bank.description,
            "created_at": bank.created_at.isoformat()}


class BankStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def bank_create(self, name: str, category: str, *, visibility: str = "private",
                    shareable: bool = True, description: str | None = None) -> dict[str, Any]:
        if category not in CATEGORIES:
            raise BadRequest(f"unknown category {category!r}; one of {', '.join(CATEGORIES)}")
        if visibility not in VISIBILITIES:
            raise BadRequest(f"unknown visibility {visibility!r}; one of "
                             f"{', '.join(VISIBILITIES)}")
        if not name or len(name) > 128:
            raise BadRequest("bank name must be 1..128 characters")
        with self.db.session() as s:
            if s.scalar(select(Bank).where(Bank.name == name)) is not None:
                raise Conflict(f"bank {name!r} exists")
            bank = Bank(name=name, category=category, visibility=visibility,
                        shareable=shareable, description=description)
            s.add(bank)
            s.flush()
            s.add(BankChange(bank_id=bank.id, op="bank"))
            return bank_to_dict(bank)

    def bank_ensure(self, name: str, category: str) -> dict[str, Any]:
        existing = self.bank_find(name)
        return existing if existing else self.bank_create(name, category)

    def bank_find(self, name: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            bank = s.scalar(select(Bank).where(Bank.name == name))
            return bank_to_dict(bank) if bank else None

    def bank_get(self, name: str) -> dict[str, Any]:
        found = self.bank_find(name)
        if found is None:
            raise NotFound(f"no bank named {name!r}")
        return found

    def bank_set_enabled(self, name: str, enabled: bool) -> None:
        with self.db.session() as s:
            bank = s.scalar(select(Bank).where(Bank.name == name))
            if bank is None:
                raise NotFound(f"no bank named {name!r}")
            bank.enabled = enabled
            s.add(BankChange(bank_id=bank.id, op="bank"))

    def bank_list(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            return [bank_to_dict(b) for b in s.scalars(select(Bank).order_by(Bank.name))]

    def entries_add(self, bank_name: str, entries: Iterable[EntryInput]) -> int:
        """Add or revive entries in bulk; returns how many changed.

        Values are canonicalised first (a malformed one raises ``BadRequest`` before anything
        is written). Existing active entries are left alone; tombstoned ones are revived.
        Work is done in set-based statements so that an import of a million rows is bounded
        by the database, not by per-row round trips.
        """
        wanted: dict[tuple[str, str], EntryInput] = {}
        for item in entries:
            kind = hash_type(item.hash_type)
            wanted.setdefault((kind.name, kind.canonical(item.value)), item)
        if not wanted:
            return 0
        with self.db.session() as s:
            bank = s.scalar(select(Bank).where(Bank.name == bank_name))
            if bank is None:
                raise NotFound(f"no bank named {bank_name!r}")
            existing: dict[tuple[str, str], BankEntry] = {}
            keys = list(wanted)
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                rows = s.scalars(select(BankEntry).where(
                    BankEntry.bank_id == bank.id,
                    tuple_(BankEntry.hash_type, BankEntry.value).in_(chunk)))
                existing.update({(r.hash_type, r.value): r for r in rows})
            now = utcnow()
            revived = [r for r in existing.values() if r.removed_at is not None]
            for row in revived:
                row.removed_at = row.removed_by = row.removed_reason = None
                row.updated_at = now
            fresh = [{"bank_id": bank.id, "hash_type": k[0], "value": k[1],
                      "note": wanted[k].note, "source": wanted[k].source,
                      "created_at": now, "updated_at": now}
                     for k in keys if k not in existing]
            new_ids: list[int] = []
            if fresh:
                new_ids = list(s.scalars(insert(BankEntry).returning(BankEntry.id), fresh))
            changed = [r.id for r in revived] + new_ids
            if changed:
                s.execute(insert(BankChange), [{"bank_id": bank.id, "entry_id": i, "op": "add",
                                                "at": now} for i in changed])
            return len(changed)

    def entry_remove(self, bank_name: str, hash_type_name: str, value: str, *, by: str,
                     reason: str) -> None:
        kind = hash_type(hash_type_name)
        canonical = kind.canonical(value)
        with self.db.session() as s:
            row = s.scalar(select(BankEntry).join(Bank).where(
                Bank.name == bank_name, BankEntry.hash_type == kind.name,
                BankEntry.value == canonical, BankEntry.removed_at.is_(None)))
            if row is None:
                raise NotFound(f"no active {kind.name} entry {canonical} in bank {bank_name!r}")
            row.removed_at, row.removed_by, row.removed_reason = utcnow(), by, reason
            s.add(BankChange(bank_id=row.bank_id, entry_id=row.id, op="remove"))

    def entries_export(self, bank_name: str) -> Iterator[dict[str, Any]]:
        bank = self.bank_get(bank_name)
        with self.db.session() as s:
            rows = s.scalars(select(BankEntry).where(
                BankEntry.bank_id == bank["id"], BankEntry.removed_at.is_(None))
                .order_by(BankEntry.id)).all()
        for row in rows:
            yield {"hash_type": row.hash_type, "value": row.value,
                   "category": bank["category"], "note": row.note or ""}

    def active_entries(self, entry_ids: Iterable[int] | None = None) -> list[ActiveEntry]:
        """Entries that match: not removed, in an enabled bank (optionally only these ids)."""
        query = (select(BankEntry, Bank).join(Bank)
                 .where(BankEntry.removed_at.is_(None), Bank.enabled.is_(True)))
        if entry_ids is not None:
            query = query.where(BankEntry.id.in_(list(entry_ids)))
        with self.db.session() as s:
            return [ActiveEntry(entry_id=e.id, bank_id=b.id, bank=b.name, category=b.category,
                                hash_type=e.hash_type, value=e.value, note=e.note)
                    for e, b in s.execute(query)]

    def changes_since(self, seq: int, limit: int = 100_000) -> list[tuple[int, str, int | None]]:
        with self.db.session() as s:
            rows = s.execute(select(BankChange.seq, BankChange.op, BankChange.entry_id)
                             .where(BankChange.seq > seq).order_by(BankChange.seq)
                             .limit(limit)).all()
            return [(r.seq, r.op, r.entry_id) for r in rows]

    def last_change(self) -> int:
        with self.db.session() as s:
            row = s.scalar(select(BankChange.seq).order_by(BankChange.seq.desc()).limit(1))
            return int(row or 0)

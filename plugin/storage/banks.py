"""BankStore: hash banks, their entries, and the change log matchers replay.

Nothing is deleted: removing an entry stamps a tombstone (who, when, why) and appends a
``remove`` change; re-adding the same hash clears the tombstone and appends an ``add``.
Every worker's matcher replays ``changes_since(seq)`` to stay current without a rebuild.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from plugin.errors import BadRequest, Conflict, Forbidden, NotFound
from plugin.hashing.types import hash_type
from plugin.storage.database import Database
from plugin.storage.models import Bank, BankChange, BankEntry, BankOpinion, utcnow

CATEGORIES = ("csam", "ncii", "nonconsensual_ai_edit", "terror", "spam", "other")
VISIBILITIES = ("private", "peers", "vetted")
OPINIONS = ("true_positive", "false_positive", "worth_investigating")


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
            "created_at": bank.created_at.isoformat(),
            "removed_at": bank.removed_at.isoformat() if bank.removed_at else None}


def opinions_summary(opinions: list[dict[str, Any]]) -> dict[str, Any]:
    """Opinions plus the derived state: *disputed* when true and false positives coexist."""
    kinds = {o["opinion"] for o in opinions}
    return {"opinions": opinions,
            "disputed": {"true_positive", "false_positive"} <= kinds}


def entry_to_dict(entry: BankEntry, bank: Bank, opinions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": entry.id, "bank": bank.name, "category": bank.category,
            "hash_type": entry.hash_type, "value": entry.value, "note": entry.note,
            "source": entry.source, "created_at": entry.created_at.isoformat(),
            "removed_at": entry.removed_at.isoformat() if entry.removed_at else None,
            "removed_by": entry.removed_by, "removed_reason": entry.removed_reason,
            **opinions_summary(opinions)}


def value_digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _lookup_key(hash_type_name: str, value: str) -> tuple[Any, str]:
    """Type and canonical value of an entry named by a caller; malformed means no such entry."""
    try:
        kind = hash_type(hash_type_name)
        return kind, kind.canonical(value)
    except BadRequest:
        raise NotFound(f"no {hash_type_name} entry {value[:80]!r}") from None


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
            bank = s.scalar(select(Bank).where(Bank.name == name, Bank.removed_at.is_(None)))
            return bank_to_dict(bank) if bank else None

    def _bank(self, s: Any, name: str) -> Bank:
        bank = s.scalar(select(Bank).where(Bank.name == name, Bank.removed_at.is_(None)))
        if bank is None:
            raise NotFound(f"no bank named {name!r}")
        return bank

    def bank_update(self, name: str, *, enabled: bool | None = None,
                    visibility: str | None = None, description: str | None = None
                    ) -> dict[str, Any]:
        if visibility is not None and visibility not in VISIBILITIES:
            raise BadRequest(f"unknown visibility {visibility!r}; one of "
                             f"{', '.join(VISIBILITIES)}")
        with self.db.session() as s:
            bank = self._bank(s, name)
            if enabled is not None:
                bank.enabled = enabled
            if visibility is not None:
                bank.visibility = visibility
            if description is not None:
                bank.description = description
            s.add(BankChange(bank_id=bank.id, op="bank"))
            return bank_to_dict(bank)

    def bank_remove(self, name: str) -> dict[str, Any]:
        """Retire a bank: it stops matching and disappears from listings; rows stay."""
        with self.db.session() as s:
            bank = self._bank(s, name)
            bank.enabled, bank.removed_at = False, utcnow()
            s.add(BankChange(bank_id=bank.id, op="bank"))
            return bank_to_dict(bank)

    def bank_get(self, name: str) -> dict[str, Any]:
        found = self.bank_find(name)
        if found is None:
            raise NotFound(f"no bank named {name!r}")
        return found

    def bank_set_enabled(self, name: str, enabled: bool) -> None:
        self.bank_update(name, enabled=enabled)

    def bank_list(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            return [bank_to_dict(b) for b in s.scalars(
                select(Bank).where(Bank.removed_at.is_(None)).order_by(Bank.name))]

    def entries_add(self, bank_name: str, entries: Iterable[EntryInput]) -> int:
        """Add or revive entries in bulk; returns how many changed.

        Values are canonicalised first (a malformed one raises ``BadRequest`` before anything
        is written). New rows go in with one ``INSERT … ON CONFLICT DO NOTHING RETURNING`` per
        batch; only when the bank has tombstones do we look for entries to revive. An import
        of a million rows is therefore bounded by the database, not by round trips.
        """
        with self.db.session() as s:
            return self._entries_add(s, self._bank(s, bank_name), entries)

    def entries_add_by_id(self, bank_id: int, entries: Iterable[EntryInput]) -> int:
        """``entries_add`` for a bank known by id (the federation's peer banks)."""
        with self.db.session() as s:
            return self._entries_add(s, s.get_one(Bank, bank_id), entries)

    def _entries_add(self, s: Any, bank: Bank, entries: Iterable[EntryInput]) -> int:
        wanted: dict[tuple[str, str], EntryInput] = {}
        for item in entries:
            kind = hash_type(item.hash_type)
            wanted.setdefault((kind.name, kind.canonical(item.value)), item)
        if not wanted:
            return 0
        now = utcnow()
        revived = self._revive(s, bank.id, list(wanted), now)
        table = BankEntry.__table__
        insert_ = pg_insert if s.bind.dialect.name == "postgresql" else sqlite_insert
        statement = insert_(table).on_conflict_do_nothing(
            index_elements=["bank_id", "hash_type", "value_digest"]).returning(table.c.id)
        rows = [{"bank_id": bank.id, "hash_type": k[0], "value": k[1],
                 "value_digest": value_digest(k[1]), "note": item.note, "source": item.source,
                 "created_at": now, "updated_at": now} for k, item in wanted.items()]
        new_ids = list(s.scalars(statement, rows))
        changed = revived + new_ids
        if changed:
            s.execute(BankChange.__table__.insert(),
                      [{"bank_id": bank.id, "entry_id": i, "op": "add", "at": now}
                       for i in changed])
        return len(changed)

    @staticmethod
    def _revive(s: Any, bank_id: int, keys: list[tuple[str, str]], now: Any) -> list[int]:
        """Clear the tombstones of these keys, if the bank has any tombstones at all."""
        has_tombstones = s.scalar(select(BankEntry.id).where(
            BankEntry.bank_id == bank_id, BankEntry.removed_at.is_not(None)).limit(1))
        if has_tombstones is None:
            return []
        revived = []
        digests = [(kind, value_digest(value)) for kind, value in keys]
        for start in range(0, len(digests), 500):
            rows = s.scalars(select(BankEntry).where(
                BankEntry.bank_id == bank_id, BankEntry.removed_at.is_not(None),
                tuple_(BankEntry.hash_type, BankEntry.value_digest).in_(
                    digests[start:start + 500])))
            for row in rows:
                row.removed_at = row.removed_by = row.removed_reason = None
                row.updated_at = now
                revived.append(row.id)
        s.flush()
        return revived

    def entry_remove(self, bank_name: str, hash_type_name: str, value: str, *, by: str,
                     reason: str) -> None:
        kind, canonical = _lookup_key(hash_type_name, value)
        with self.db.session() as s:
            row = s.scalar(select(BankEntry).join(Bank).where(
                Bank.name == bank_name, BankEntry.hash_type == kind.name,
                BankEntry.value_digest == value_digest(canonical), BankEntry.removed_at.is_(None)))
            if row is None:
                raise NotFound(f"no active {kind.name} entry {canonical} in bank {bank_name!r}")
            row.removed_at, row.removed_by, row.removed_reason = utcnow(), by, reason
            s.add(BankChange(bank_id=row.bank_id, entry_id=row.id, op="remove"))

    def entry_get(self, bank_name: str, hash_type_name: str, value: str) -> dict[str, Any]:
        kind, canonical = _lookup_key(hash_type_name, value)
        with self.db.session() as s:
            bank = self._bank(s, bank_name)
            entry = s.scalar(select(BankEntry).where(
                BankEntry.bank_id == bank.id, BankEntry.hash_type == kind.name,
                BankEntry.value_digest == value_digest(canonical)))
            if entry is None:
                raise NotFound(f"no {kind.name} entry {canonical} in bank {bank_name!r}")
            return entry_to_dict(entry, bank, self._opinions(s, [entry.id]).get(entry.id, []))

    def entries_page(self, bank_name: str, *, after_id: int = 0, limit: int = 100
                     ) -> list[dict[str, Any]]:
        """Active entries in id order after ``after_id`` (keyset paging)."""
        with self.db.session() as s:
            bank = self._bank(s, bank_name)
            rows = s.scalars(select(BankEntry).where(
                BankEntry.bank_id == bank.id, BankEntry.removed_at.is_(None),
                BankEntry.id > after_id).order_by(BankEntry.id).limit(limit)).all()
            opinions = self._opinions(s, [r.id for r in rows])
            return [entry_to_dict(r, bank, opinions.get(r.id, [])) for r in rows]

    def opinion_set(self, bank_name: str, hash_type_name: str, value: str, *, opinion: str,
                    by: str, note: str | None = None) -> dict[str, Any]:
        """Record ``by``'s opinion of an entry, replacing their earlier one."""
        if opinion not in OPINIONS:
            raise BadRequest(f"opinion must be one of {', '.join(OPINIONS)}")
        if not by or len(by) > 128:
            raise BadRequest("an opinion needs its author ('by', 1..128 characters)")
        entry = self.entry_get(bank_name, hash_type_name, value)
        with self.db.session() as s:
            row = s.scalar(select(BankOpinion).where(BankOpinion.entry_id == entry["id"],
                                                     BankOpinion.by == by))
            if row is None:
                s.add(BankOpinion(entry_id=entry["id"], opinion=opinion, by=by, note=note))
            else:
                row.opinion, row.note, row.at = opinion, note, utcnow()
        return self.entry_get(bank_name, hash_type_name, value)

    def opinions_for(self, entry_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
        with self.db.session() as s:
            return self._opinions(s, list(entry_ids))

    @staticmethod
    def _opinions(s: Any, entry_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {}
        for start in range(0, len(entry_ids), 500):
            rows = s.scalars(select(BankOpinion).where(
                BankOpinion.entry_id.in_(entry_ids[start:start + 500])).order_by(BankOpinion.id))
            for r in rows:
                out.setdefault(r.entry_id, []).append(
                    {"opinion": r.opinion, "by": r.by, "note": r.note, "at": r.at.isoformat()})
        return out

    def entries_export(self, bank_name: str, *, for_sharing: bool = False
                       ) -> Iterator[dict[str, Any]]:
        """Active entries as rows. ``for_sharing``: refuse banks licensed from others."""
        bank = self.bank_get(bank_name)
        if for_sharing and not bank["shareable"]:
            raise Forbidden(f"bank {bank_name!r} holds a licensed list and is never "
                            "redistributed (export or federation)")
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

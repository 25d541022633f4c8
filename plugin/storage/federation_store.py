"""PeerStore and ChangeLogStore: the code that touches ``fed_peers``, ``fed_changelog`` and
``fed_state`` (the received records are ``plugin.storage.received_store``).

Ordering of the change log (``docs/peer-protocol.md`` §6): a record id must never become
visible *below* an id a peer has already been served. Ids are UUIDv7 strings allocated in
the application, so two publishers racing could commit out of order. We allocate ids **under
a lock**: every publishing transaction first writes the ``publisher`` row of ``fed_state``
(a row lock on PostgreSQL, the database write lock on SQLite), then reads the largest id in
the log and allocates strictly above it. Commits therefore happen in id order and no settle
delay is needed; the feed serves records as soon as they are committed. Records are stored
as the exact signed JSON text served, so a feed page is one SELECT, a join and (in the web
layer) one response signature.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from plugin.errors import Conflict, NotFound
from plugin.federation.ids import uuid7
from plugin.storage.database import Database
from plugin.storage.federation_models import (
    ChangeLogRecord,
    FederationState,
    Peer,
)
from plugin.storage.models import Bank, BankChange, BankEntry, utcnow

PEER_SETTINGS = ("trust_level", "categories", "auto_act", "max_action", "read_visibility")


def peer_state(row: Peer) -> str:
    if row.removed:
        return "removed"
    if row.rejected:
        return "rejected"
    if row.we_approved and row.they_requested:
        return "active"
    if row.they_requested:
        return "awaiting_our_approval"
    if row.we_approved:
        return "awaiting_their_approval"
    return "added"


def peer_to_dict(row: Peer) -> dict[str, Any]:
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    return {"id": row.id, "domain": row.domain, "base_url": row.base_url,
            "state": peer_state(row), "keys": row.keys, "protocols": row.protocols,
            "message": row.message, "trust_level": row.trust_level,
            "categories": row.categories, "auto_act": row.auto_act,
            "max_action": row.max_action, "read_visibility": row.read_visibility,
            "cursor": row.cursor, "backfilled_at": iso(row.backfilled_at),
            "last_sync_at": iso(row.last_sync_at), "last_error": row.last_error,
            "retry_at": iso(row.retry_at), "failures": row.failures,
            "quarantined": row.quarantined, "quarantine_reason": row.quarantine_reason,
            "created_at": iso(row.created_at)}


class PeerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _one(self, s: Session, peer_id: int) -> Peer:
        row = s.get(Peer, peer_id)
        if row is None:
            raise NotFound(f"no peer with id {peer_id}")
        return row

    def peer_get(self, peer_id: int) -> dict[str, Any]:
        with self.db.session() as s:
            return peer_to_dict(self._one(s, peer_id))

    def peer_by_domain(self, domain: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.scalar(select(Peer).where(Peer.domain == domain))
            return peer_to_dict(row) if row else None

    def peer_list(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            return [peer_to_dict(r) for r in s.scalars(select(Peer).order_by(Peer.id))]

    def peer_upsert(self, domain: str, base_url: str, keys: list[dict[str, Any]],
                    protocols: list[str], *, requested: bool = False,
                    message: str | None = None) -> dict[str, Any]:
        """Create or refresh a peer from its discovery document (and a pair request)."""
        with self.db.session() as s:
            row = s.scalar(select(Peer).where(Peer.domain == domain))
            if row is None:
                row = Peer(domain=domain, base_url=base_url, keys=[], protocols=[],
                           we_approved=False, they_requested=False, rejected=False,
                           removed=False, trust_level="normal", auto_act=False,
                           max_action="review", read_visibility="peers", cursor="0",
                           failures=0, quarantined=False)
                s.add(row)
            elif row.base_url != base_url and not requested:
                row.base_url = base_url
            row.keys, row.protocols, row.keys_fetched_at = keys, protocols, utcnow()
            if requested:
                row.they_requested, row.removed = True, False
                row.message = message
            row.updated_at = utcnow()
            s.flush()
            return peer_to_dict(row)

    def peer_keys_set(self, domain: str, keys: list[dict[str, Any]]) -> None:
        with self.db.session() as s:
            s.execute(update(Peer).where(Peer.domain == domain)
                      .values(keys=keys, keys_fetched_at=utcnow()))

    def peer_approve(self, peer_id: int) -> dict[str, Any]:
        with self.db.session() as s:
            row = self._one(s, peer_id)
            row.we_approved, row.rejected, row.removed = True, False, False
            row.updated_at = utcnow()
            return peer_to_dict(row)

    def peer_reject(self, peer_id: int) -> dict[str, Any]:
        with self.db.session() as s:
            row = self._one(s, peer_id)
            row.we_approved, row.they_requested, row.rejected = False, False, True
            return peer_to_dict(row)

    def peer_unpair(self, peer_id: int) -> dict[str, Any]:
        """Both halves of the handshake are forgotten: re-pairing needs both admins again."""
        with self.db.session() as s:
            row = self._one(s, peer_id)
            row.we_approved = row.they_requested = False
            row.removed = True
            row.updated_at = utcnow()
            return peer_to_dict(row)

    def peer_update(self, peer_id: int, **values: Any) -> dict[str, Any]:
        unknown = set(values) - set(PEER_SETTINGS)
        if unknown:
            raise Conflict(f"not a peer setting: {', '.join(sorted(unknown))}")
        with self.db.session() as s:
            row = self._one(s, peer_id)
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            return peer_to_dict(row)

    def peer_checkpoint_set(self, peer_id: int, cursor: str, *, backfilled: bool) -> None:
        with self.db.session() as s:
            checkpoint_set(s, peer_id, cursor, backfilled)

    def peer_sync_result(self, peer_id: int, *, error: str | None,
                         retry_at: datetime | None = None) -> None:
        with self.db.session() as s:
            row = self._one(s, peer_id)
            row.last_sync_at, row.last_error, row.retry_at = utcnow(), error, retry_at
            row.failures = row.failures + 1 if error else 0

    def peer_quarantine(self, peer_id: int, reason: str | None) -> dict[str, Any]:
        """Quarantine (``reason``) or release (``None``) a peer."""
        with self.db.session() as s:
            row = self._one(s, peer_id)
            row.quarantined, row.quarantine_reason = reason is not None, reason
            return peer_to_dict(row)


class Publisher:
    """The open, locked publishing transaction handed out by ``ChangeLogStore.publishing``."""

    def __init__(self, session: Session, last_id: str | None, state: FederationState) -> None:
        self.s = session
        self._last = uuid.UUID(last_id) if last_id else None
        self._state = state

    def next_id(self) -> str:
        new = uuid.UUID(uuid7())
        if self._last is not None and new <= self._last:  # same ms in another process
            new = uuid.UUID(int=self._last.int + 1)
        self._last = new
        return str(new)

    @property
    def cursor(self) -> dict[str, Any]:
        return dict(self._state.value or {})

    @cursor.setter
    def cursor(self, value: dict[str, Any]) -> None:
        self._state.value = value
        self._state.updated_at = utcnow()

    def add(self, **columns: Any) -> None:
        self.s.add(ChangeLogRecord(**columns))

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.s.execute(insert(ChangeLogRecord), rows)

    def live_for_entries(self, entry_ids: Iterable[int]) -> list[ChangeLogRecord]:
        ids = list(entry_ids)
        if not ids:
            return []
        return list(self.s.scalars(select(ChangeLogRecord).where(
            ChangeLogRecord.bank_entry_id.in_(ids), ChangeLogRecord.type == "hash",
            ChangeLogRecord.withdrawn_at.is_(None))))

    def live_by_id(self, record_id: str) -> ChangeLogRecord | None:
        row = self.s.get(ChangeLogRecord, record_id)
        return row if row is not None and row.withdrawn_at is None else None

    def expiring(self, before: datetime, limit: int) -> list[ChangeLogRecord]:
        return list(self.s.scalars(select(ChangeLogRecord).where(
            ChangeLogRecord.type == "hash", ChangeLogRecord.withdrawn_at.is_(None),
            ChangeLogRecord.expires_at.is_not(None), ChangeLogRecord.expires_at < before)
            .order_by(ChangeLogRecord.expires_at).limit(limit)))

    def withdraw(self, row: ChangeLogRecord, by: str) -> None:
        row.withdrawn_at, row.withdrawn_by = utcnow(), by

    def bank_changes(self, seq: int, limit: int, *, settle_s: float = 5.0
                     ) -> list[tuple[int, str, int | None]]:
        """Bank changes after *seq*, stopping before a fresh gap in the sequence.

        On PostgreSQL a change's ``seq`` is allocated before its transaction commits, so a
        smaller seq can become visible after a larger one; a cursor moved past it would never
        see it. A gap younger than *settle_s* is therefore waited for (the next run picks it
        up); an older gap is a rolled-back transaction and is skipped.
        """
        rows = self.s.execute(select(BankChange.seq, BankChange.op, BankChange.entry_id,
                                     BankChange.at).where(BankChange.seq > seq)
                              .order_by(BankChange.seq).limit(limit)).all()
        out, expected = [], seq + 1
        fresh = utcnow() - timedelta(seconds=settle_s)
        for row in rows:
            if row.seq != expected and row.at > fresh:
                break
            out.append((row.seq, row.op, row.entry_id))
            expected = row.seq + 1
        return out

    def entries(self, entry_ids: Iterable[int]) -> dict[int, tuple[BankEntry, Bank]]:
        ids = list(entry_ids)
        if not ids:
            return {}
        rows = self.s.execute(select(BankEntry, Bank).join(Bank).where(BankEntry.id.in_(ids)))
        return {e.id: (e, b) for e, b in rows}


class ChangeLogStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def publishing(self) -> Iterator[Publisher]:
        """One publishing transaction, serialised against every other publisher."""
        with self.db.session() as s:
            # The write takes the lock (row lock / SQLite write lock) before ids are read.
            # The row is created by migration 0003.
            s.execute(update(FederationState).where(FederationState.key == "publisher")
                      .values(updated_at=utcnow()))
            state = s.get_one(FederationState, "publisher")
            last = s.scalar(select(func.max(ChangeLogRecord.id)))
            yield Publisher(s, last, state)

    def changes_page(self, since: str, limit: int, *, visibilities: tuple[str, ...],
                     now: datetime) -> tuple[list[str], str, bool]:
        """Signed record texts after *since* that a peer with *visibilities* may read.

        CSAM-category records are only ever in ``vetted`` visibility here: the publisher never
        writes a CSAM record with another visibility, and this filter re-checks it.
        """
        query = (select(ChangeLogRecord.id, ChangeLogRecord.signed)
                 .where(ChangeLogRecord.id > since, ChangeLogRecord.withdrawn_at.is_(None),
                        or_(ChangeLogRecord.expires_at.is_(None),
                            ChangeLogRecord.expires_at > now),
                        ChangeLogRecord.visibility.in_(visibilities),
                        or_(ChangeLogRecord.category != "csam",
                            ChangeLogRecord.visibility == "vetted"))
                 .order_by(ChangeLogRecord.id).limit(limit + 1))
        with self.db.session() as s:
            rows = s.execute(query).all()
        has_more = len(rows) > limit
        rows = rows[:limit]
        return [r.signed for r in rows], (rows[-1].id if rows else since), has_more

    def latest_id(self) -> str | None:
        with self.db.session() as s:
            return s.scalar(select(func.max(ChangeLogRecord.id)))

    def count(self) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(ChangeLogRecord)) or 0)


def checkpoint_set(s: Session, peer_id: int, cursor: str, backfilled: bool) -> None:
    """Persist *peer_id*'s feed cursor in session *s* (a sync writes it with each page)."""
    t = Peer.__table__
    if not s.execute(update(t).where(t.c.id == peer_id).values(cursor=cursor)).rowcount:
        raise NotFound(f"no peer {peer_id}")
    if backfilled:
        s.execute(update(t).where(t.c.id == peer_id, t.c.backfilled_at.is_(None))
                  .values(backfilled_at=utcnow()))

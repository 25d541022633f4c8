"""ReviewStore: the one SQL implementation behind the moderators' side.

Noun-first methods over ``plugin.storage.review_models``. Opening an item is idempotent by
``key`` (``media:<id>``, ``takedown:<request>:<media>``) so a retried action job or a second
takedown for the same copy converges on one item. Decisions are final for ``confirm`` and
``dismiss``; ``escalate`` keeps the item in the queue, flagged. It reads ``media_scans``
(read-only) to find every copy of a picture for takedowns and previews.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from plugin.errors import Conflict, NotFound
from plugin.storage.database import Database
from plugin.storage.models import MediaScan, utcnow
from plugin.storage.review_models import (
    AllowlistEntry,
    LegalHold,
    Moderator,
    ReviewDecision,
    ReviewItem,
    ReviewOpinion,
    Statement,
    TakedownRequest,
)

OPEN_STATES = ("open", "escalated")
FINAL_DECISIONS = {"confirm": "confirmed", "dismiss": "dismissed"}
ITEM_FIELDS = ("id", "key", "source", "category", "peer", "media_id", "status_id", "status_url",
               "account_id", "account_acct", "media_url", "sha256", "pdq", "findings", "labels",
               "takedown_id", "state", "decided_by")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def item_to_dict(row: ReviewItem) -> dict[str, Any]:
    out = {f: getattr(row, f) for f in ITEM_FIELDS}
    out.update(created_at=row.created_at, due_at=row.due_at, decided_at=row.decided_at)
    return out


class ReviewStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- moderators -------------------------------------------------------------------------
    def moderator_create(self, name: str, password_hash: str, role: str) -> dict[str, Any]:
        try:
            with self.db.session() as s:
                row = Moderator(name=name, password_hash=password_hash, role=role)
                s.add(row)
                s.flush()
                return self._moderator(row)
        except IntegrityError:
            raise Conflict(f"moderator {name!r} exists") from None

    def moderator_find(self, name: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.scalar(select(Moderator).where(Moderator.name == name))
            return self._moderator(row) if row else None

    def moderator_get(self, moderator_id: int) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.get(Moderator, moderator_id)
            return self._moderator(row) if row else None

    def moderator_update(self, name: str, **values: Any) -> None:
        """Change hash/role/active; a password or active change ends existing sessions."""
        with self.db.session() as s:
            row = s.scalar(select(Moderator).where(Moderator.name == name))
            if row is None:
                raise NotFound(f"no moderator {name!r}")
            for key, value in values.items():
                setattr(row, key, value)
            if "password_hash" in values or "active" in values:
                row.session_epoch += 1

    def moderator_logged_in(self, moderator_id: int) -> None:
        with self.db.session() as s:
            s.get_one(Moderator, moderator_id).last_login_at = utcnow()

    @staticmethod
    def _moderator(row: Moderator) -> dict[str, Any]:
        return {"id": row.id, "name": row.name, "password_hash": row.password_hash,
                "role": row.role, "active": row.active, "session_epoch": row.session_epoch}

    # -- items ------------------------------------------------------------------------------
    def item_open(self, key: str, **values: Any) -> tuple[int, bool]:
        """Create the item if ``key`` is new. Returns (id, created)."""
        with self.db.session() as s:
            existing = s.scalar(select(ReviewItem.id).where(ReviewItem.key == key))
            if existing is not None:
                return existing, False
        try:
            with self.db.session() as s:
                row = ReviewItem(key=key, **values)
                s.add(row)
                s.flush()
                return row.id, True
        except IntegrityError:
            with self.db.session() as s:
                return s.scalars(select(ReviewItem.id).where(ReviewItem.key == key)).one(), False

    def item_get(self, item_id: int) -> dict[str, Any]:
        with self.db.session() as s:
            row = s.get(ReviewItem, item_id)
            if row is None:
                raise NotFound(f"no review item {item_id}")
            return item_to_dict(row)

    def items_list(self, *, states: tuple[str, ...] = OPEN_STATES, category: str | None = None,
                   peer: str | None = None, older_than: datetime | None = None,
                   newer_than: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Oldest due first (takedown clocks), then oldest first."""
        query = select(ReviewItem).where(ReviewItem.state.in_(states))
        if category:
            query = query.where(ReviewItem.category == category)
        if peer:
            query = query.where(ReviewItem.peer == peer)
        if older_than:
            query = query.where(ReviewItem.created_at <= older_than)
        if newer_than:
            query = query.where(ReviewItem.created_at >= newer_than)
        query = query.order_by(ReviewItem.due_at.is_(None), ReviewItem.due_at,
                               ReviewItem.created_at, ReviewItem.id).limit(limit)
        with self.db.session() as s:
            return [item_to_dict(r) for r in s.scalars(query)]

    def items_count(self) -> dict[str, dict[str, int]]:
        """Counts of open items by state and by category, for the page header."""
        with self.db.session() as s:
            rows = s.execute(select(ReviewItem.state, ReviewItem.category, func.count())
                             .group_by(ReviewItem.state, ReviewItem.category)).all()
        out: dict[str, dict[str, int]] = {"state": {}, "category": {}}
        for state, category, n in rows:
            out["state"][state] = out["state"].get(state, 0) + n
            if state in OPEN_STATES:
                out["category"][category] = out["category"].get(category, 0) + n
        return out

    def items_for_account(self, account_id: str, exclude: int) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.scalars(select(ReviewItem).where(ReviewItem.account_id == account_id,
                                                      ReviewItem.id != exclude)
                             .order_by(ReviewItem.id.desc()).limit(20))
            return [item_to_dict(r) for r in rows]

    def item_decide(self, item_id: int, *, moderator: str, decision: str, bank: str | None,
                    note: str | None, detail: dict[str, Any]) -> dict[str, Any]:
        with self.db.session() as s:
            row = s.get(ReviewItem, item_id, with_for_update=not self.db.is_sqlite)
            if row is None:
                raise NotFound(f"no review item {item_id}")
            if row.state not in OPEN_STATES:
                raise Conflict(f"item {item_id} was already decided ({row.state} by "
                               f"{row.decided_by})")
            row.state = FINAL_DECISIONS.get(decision, "escalated")
            row.decided_by, row.decided_at = moderator, utcnow()
            s.add(ReviewDecision(item_id=item_id, moderator=moderator, decision=decision,
                                 bank=bank, note=note, detail=detail))
            s.flush()
            return item_to_dict(row)

    def decisions_for(self, item_id: int) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.scalars(select(ReviewDecision).where(ReviewDecision.item_id == item_id)
                             .order_by(ReviewDecision.id))
            return [{"moderator": r.moderator, "decision": r.decision, "bank": r.bank,
                     "note": r.note, "detail": r.detail, "at": r.at} for r in rows]

    def refused_media(self) -> list[tuple[str, str | None, str]]:
        """(media_id, media_url, category) of every item the gate must refuse."""
        with self.db.session() as s:
            rows = s.execute(select(ReviewItem.media_id, ReviewItem.media_url,
                                    ReviewItem.category, ReviewItem.source,
                                    ReviewItem.state)
                             .where(ReviewItem.state.in_(("open", "escalated", "confirmed")),
                                    ReviewItem.media_id.is_not(None))).all()
        # A takedown request is unverified until a moderator confirms it: refusing on
        # request alone would let anyone make any picture disappear.
        return [(m, u, c) for m, u, c, src, state in rows
                if state == "confirmed" or src == "scan"]

    # -- opinions and allowlist -------------------------------------------------------------
    def opinion_add(self, **values: Any) -> None:
        try:
            with self.db.session() as s:
                s.add(ReviewOpinion(**values))
        except IntegrityError:
            pass  # the same opinion for the same item: already recorded

    def opinions_list(self, limit: int = 500) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.scalars(select(ReviewOpinion).order_by(ReviewOpinion.id).limit(limit))
            return [{"hash_type": r.hash_type, "value": r.value, "bank": r.bank,
                     "category": r.category, "opinion": r.opinion, "share": r.share,
                     "human_reviewed": r.human_reviewed, "moderator": r.moderator,
                     "item_id": r.item_id, "at": r.at} for r in rows]

    def allowlist_add(self, hash_type: str, value: str, *, moderator: str,
                      reason: str | None) -> None:
        try:
            with self.db.session() as s:
                s.add(AllowlistEntry(hash_type=hash_type, value=value, moderator=moderator,
                                     reason=reason))
        except IntegrityError:
            pass

    def allowlisted(self, hashes: dict[str, str | None]) -> bool:
        pairs = [(t, v) for t, v in hashes.items() if v]
        if not pairs:
            return False
        with self.db.session() as s:
            for hash_type, value in pairs:
                if s.scalar(select(AllowlistEntry.id).where(
                        AllowlistEntry.hash_type == hash_type, AllowlistEntry.value == value)):
                    return True
        return False

    # -- statements of reasons --------------------------------------------------------------
    def statement_add(self, uuid: str, fields: dict[str, Any], *, item_id: int | None,
                      subject: str | None, restrictive: bool) -> None:
        with self.db.session() as s:
            s.add(Statement(uuid=uuid, fields=fields, item_id=item_id, subject=subject,
                            restrictive=restrictive))

    def statements_iter(self, *, since: datetime | None = None, until: datetime | None = None,
                        restrictive_only: bool = False, batch: int = 500
                        ) -> Iterator[dict[str, Any]]:
        last = 0
        while True:
            query = select(Statement).where(Statement.id > last).order_by(Statement.id)
            if since:
                query = query.where(Statement.at >= since)
            if until:
                query = query.where(Statement.at < until)
            if restrictive_only:
                query = query.where(Statement.restrictive.is_(True))
            with self.db.session() as s:
                rows = s.scalars(query.limit(batch)).all()
            if not rows:
                return
            for row in rows:
                yield {"uuid": row.uuid, "at": row.at, "item_id": row.item_id,
                       "subject": row.subject, "restrictive": row.restrictive,
                       "fields": row.fields}
            last = rows[-1].id

    # -- legal holds ------------------------------------------------------------------------
    def hold_put(self, item_id: int, category: str, created_at: datetime,
                 expires_at: datetime, nonce: bytes, ciphertext: bytes) -> bool:
        try:
            with self.db.session() as s:
                s.add(LegalHold(item_id=item_id, category=category, created_at=created_at,
                                expires_at=expires_at, nonce=nonce, ciphertext=ciphertext))
            return True
        except IntegrityError:
            return False

    def hold_get(self, item_id: int) -> dict[str, Any]:
        """The sealed evidence of an item; counts the access."""
        with self.db.session() as s:
            row = s.scalar(select(LegalHold).where(LegalHold.item_id == item_id))
            if row is None:
                raise NotFound(f"no legal hold for item {item_id}")
            row.accesses += 1
            return {"item_id": row.item_id, "category": row.category, "nonce": row.nonce,
                    "ciphertext": row.ciphertext, "created_at": row.created_at,
                    "expires_at": row.expires_at, "accesses": row.accesses}

    def holds_purge(self, now: datetime) -> int:
        with self.db.session() as s:
            rows = s.scalars(select(LegalHold).where(LegalHold.expires_at <= now)).all()
            for row in rows:
                s.delete(row)
            return len(rows)

    def items_purge(self, decided_before: datetime) -> int:
        """Delete decided items (and their decisions) older than the retention, unless held."""
        with self.db.session() as s:
            held = select(LegalHold.item_id)
            rows = s.scalars(select(ReviewItem).where(
                ReviewItem.state.in_(("confirmed", "dismissed")),
                ReviewItem.decided_at < decided_before, ReviewItem.id.not_in(held))).all()
            for row in rows:
                for decision in s.scalars(select(ReviewDecision).where(
                        ReviewDecision.item_id == row.id)):
                    s.delete(decision)
                s.delete(row)
            return len(rows)

    # -- takedowns --------------------------------------------------------------------------
    def takedown_create(self, **values: Any) -> int:
        with self.db.session() as s:
            row = TakedownRequest(**values)
            s.add(row)
            s.flush()
            return row.id

    def takedown_found(self, takedown_id: int, copies: int) -> None:
        with self.db.session() as s:
            s.get_one(TakedownRequest, takedown_id).copies_found = copies

    def takedown_get(self, takedown_id: int) -> dict[str, Any]:
        with self.db.session() as s:
            row = s.get(TakedownRequest, takedown_id)
            if row is None:
                raise NotFound(f"no takedown request {takedown_id}")
            return {"id": row.id, "received_at": row.received_at, "due_at": row.due_at,
                    "contact": row.contact, "description": row.description,
                    "hashes": row.hashes, "via": row.via, "copies_found": row.copies_found}

    # -- media scans (read-only) ------------------------------------------------------------
    def scan_for_media(self, media_id: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.scalar(select(MediaScan).where(MediaScan.media_id == media_id))
            if row is None:
                return None
            return {"media_id": row.media_id, "status_id": row.status_id,
                    "status_url": row.status_url, "account_id": row.account_id,
                    "account_acct": row.account_acct, "url": row.url,
                    "remote_url": row.remote_url, "sha256": row.sha256, "pdq": row.pdq,
                    "matches": row.matches, "labels": row.labels,
                    "visibility": row.visibility, "created_at": row.created_at}

    def scans_with_hashes(self, sha256: set[str], batch: int = 2000
                          ) -> Iterator[dict[str, Any]]:
        """Every scanned media (for PDQ comparison), identical sha256 ones flagged."""
        last = 0
        while True:
            with self.db.session() as s:
                rows = s.execute(select(MediaScan.id, MediaScan.media_id, MediaScan.sha256,
                                        MediaScan.pdq).where(MediaScan.id > last,
                                                             MediaScan.state == "scanned")
                                 .order_by(MediaScan.id).limit(batch)).all()
            if not rows:
                return
            for row in rows:
                yield {"media_id": row.media_id, "sha256": row.sha256, "pdq": row.pdq,
                       "identical": row.sha256 in sha256}
            last = rows[-1].id

    def scans_per_day(self, since: datetime) -> list[tuple[datetime, list[Any]]]:
        with self.db.session() as s:
            return [(r.scanned_at, r.matches) for r in s.execute(
                select(MediaScan.scanned_at, MediaScan.matches)
                .where(MediaScan.scanned_at >= since))]

"""ConsentStore: people's choices (with history) and the consent records peers sent us.

Noun-first methods as elsewhere (``consent_set``, ``remote_consent_apply``). A choice change
and its history row are one transaction: the history can never miss a change. The instance
default lives in ``kv`` (``consent.default``) so an admin can change it at run time; the
setting ``CONSENTRY_CONSENT_DEFAULT`` is the value before any admin change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from plugin.errors import BadRequest
from plugin.storage.consent_models import ConsentChoice, ConsentHistory, RemoteConsent
from plugin.storage.database import Database
from plugin.storage.kv import KeyValueStore

CHOICES = ("not_allowed", "allowed", "ask")
DEFAULT_KEY = "consent.default"


def _choice(row: ConsentChoice) -> dict[str, Any]:
    return {"actor": row.actor, "account_id": row.account_id, "acct": row.acct,
            "choice": row.choice, "updated_at": row.updated_at.isoformat(),
            "left_at": row.left_at.isoformat() if row.left_at else None}


def _remote(row: RemoteConsent) -> dict[str, Any]:
    return {"actor": row.actor, "issuer": row.issuer, "peer_id": row.peer_id,
            "record_id": row.record_id, "ai_edit": row.ai_edit, "state": row.state,
            "record": row.record, "received_at": row.received_at.isoformat()}


class ConsentStore:
    def __init__(self, db: Database, shipped_default: str = "not_allowed") -> None:
        self.db = db
        self.kv = KeyValueStore(db)
        self.shipped_default = shipped_default

    # -- the instance default ----------------------------------------------------------------
    def default_get(self) -> str:
        stored = self.kv.kv_get(DEFAULT_KEY)
        value = (stored or {}).get("choice")
        return value if value in CHOICES else self.shipped_default

    def default_set(self, choice: str, by: str) -> None:
        if choice not in CHOICES:
            raise BadRequest(f"choice must be one of {', '.join(CHOICES)}")
        self.kv.kv_set(DEFAULT_KEY, {"choice": choice, "by": by,
                                  "at": datetime.now(UTC).isoformat()})

    # -- people's choices --------------------------------------------------------------------
    def consent_get(self, actor: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.scalar(select(ConsentChoice).where(ConsentChoice.actor == actor))
            return _choice(row) if row else None

    def consent_effective(self, actor: str) -> tuple[str, bool]:
        """(choice, is_default) for a local person; people who left have no say any more."""
        row = self.consent_get(actor)
        if row is None:
            return self.default_get(), True
        return row["choice"], False

    def consent_set(self, actor: str, choice: str, *, via: str, account_id: str | None = None,
                    acct: str | None = None) -> tuple[dict[str, Any], str | None]:
        """Record a choice now; returns (row, previous effective choice)."""
        if choice not in CHOICES:
            raise BadRequest(f"choice must be one of {', '.join(CHOICES)}")
        default = self.default_get()
        with self.db.session() as s:
            row = s.scalar(select(ConsentChoice).where(ConsentChoice.actor == actor))
            previous = row.choice if row else default
            now = datetime.now(UTC)
            if row is None:
                row = ConsentChoice(actor=actor, choice=choice, account_id=account_id,
                                    acct=acct, updated_at=now)
                s.add(row)
            else:
                row.choice, row.updated_at, row.left_at = choice, now, None
                row.account_id = account_id or row.account_id
                row.acct = acct or row.acct
            s.add(ConsentHistory(actor=actor, choice=choice, previous=previous, via=via, at=now))
            s.flush()
            return _choice(row), previous

    def consent_left(self, actor: str) -> None:
        """The person left the instance: mark it (history kept; protection is withdrawn)."""
        with self.db.session() as s:
            row = s.scalar(select(ConsentChoice).where(ConsentChoice.actor == actor))
            now = datetime.now(UTC)
            if row is None:
                row = ConsentChoice(actor=actor, choice="allowed", updated_at=now)
                s.add(row)
            s.add(ConsentHistory(actor=actor, choice="left", previous=row.choice,
                                 via="account_deleted", at=now))
            row.left_at = now

    def consent_history(self, actor: str, limit: int = 50) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.scalars(select(ConsentHistory).where(ConsentHistory.actor == actor)
                             .order_by(ConsentHistory.id.desc()).limit(limit))
            return [{"choice": r.choice, "previous": r.previous, "via": r.via,
                     "at": r.at.isoformat()} for r in rows]

    def consent_list(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            return [_choice(r) for r in s.scalars(select(ConsentChoice).order_by(
                ConsentChoice.id))]

    # -- records from peers ------------------------------------------------------------------
    def remote_consent_get(self, actor: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.scalar(select(RemoteConsent).where(RemoteConsent.actor == actor))
            return _remote(row) if row else None

    def remote_consent_by_record(self, record_id: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.scalar(select(RemoteConsent).where(RemoteConsent.record_id == record_id))
            return _remote(row) if row else None

    def remote_consent_apply(self, *, actor: str, issuer: str, peer_id: int, record_id: str,
                             ai_edit: str, record: str) -> bool:
        """Store a newer record for ``actor``; False when ours is newer (ids are UUIDv7)."""
        with self.db.session() as s:
            row = s.scalar(select(RemoteConsent).where(RemoteConsent.actor == actor))
            if row is not None and row.record_id >= record_id:
                return False
            if row is None:
                row = RemoteConsent(actor=actor)
                s.add(row)
            row.issuer, row.peer_id, row.record_id = issuer, peer_id, record_id
            row.ai_edit, row.record, row.state = ai_edit, record, "active"
            row.received_at = datetime.now(UTC)
            return True

    def remote_consent_withdraw(self, record_id: str, state: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.scalar(select(RemoteConsent).where(RemoteConsent.record_id == record_id))
            if row is None:
                return None
            row.state = state
            if state == "tombstoned":  # §8.4: forget the target, keep nothing derived
                row.record = "{}"
            return _remote(row)

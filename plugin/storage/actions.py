"""ActionStore and AuditStore: what we decided to do, whether it was done, and the record.

An action row is created once per ``key`` (e.g. ``report:status:123:csam``), so re-delivered
webhooks and retried jobs converge on the same row. The audit log is append-only; an entry
with a ``key`` is written at most once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from plugin.storage.database import Database
from plugin.storage.models import Action, AuditRecord, utcnow


def action_to_dict(row: Action) -> dict[str, Any]:
    return {"id": row.id, "key": row.key, "kind": row.kind, "params": row.params,
            "evidence": row.evidence, "state": row.state, "attempts": row.attempts,
            "result": row.result, "error": row.error,
            "created_at": row.created_at.isoformat(),
            "done_at": row.done_at.isoformat() if row.done_at else None}


class ActionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def action_plan(self, key: str, kind: str, params: dict[str, Any],
                    evidence: dict[str, Any]) -> tuple[int, bool]:
        """Create the action if new. Returns (id, created)."""
        with self.db.session() as s:
            existing = s.scalar(select(Action.id).where(Action.key == key))
            if existing is not None:
                return existing, False
        try:
            with self.db.session() as s:
                row = Action(key=key, kind=kind, params=params, evidence=evidence)
                s.add(row)
                s.flush()
                return row.id, True
        except IntegrityError:
            with self.db.session() as s:
                return s.scalars(select(Action.id).where(Action.key == key)).one(), False

    def action_get(self, action_id: int) -> dict[str, Any]:
        with self.db.session() as s:
            return action_to_dict(s.get_one(Action, action_id))

    def action_by_key(self, key: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.scalar(select(Action).where(Action.key == key))
            return action_to_dict(row) if row else None

    def action_attempt(self, action_id: int) -> None:
        with self.db.session() as s:
            row = s.get_one(Action, action_id)
            row.attempts += 1

    def action_finish(self, action_id: int, state: str, *, result: dict[str, Any] | None = None,
                      error: str | None = None) -> None:
        with self.db.session() as s:
            row = s.get_one(Action, action_id)
            row.state, row.result, row.error, row.done_at = state, result, error, utcnow()

    def actions_list(self, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = select(Action).order_by(Action.id.desc()).limit(limit)
        if state:
            query = query.where(Action.state == state)
        with self.db.session() as s:
            return [action_to_dict(r) for r in s.scalars(query)]


class AuditStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def audit_append(self, *, actor: str, action: str, subject: str | None, outcome: str,
                     evidence: dict[str, Any] | None = None, detail: dict[str, Any] | None = None,
                     key: str | None = None) -> bool:
        """Append a record; with a ``key``, only the first append for that key is kept."""
        try:
            with self.db.session() as s:
                s.add(AuditRecord(key=key, actor=actor, action=action, subject=subject,
                                  outcome=outcome, evidence=evidence or {}, detail=detail or {}))
            return True
        except IntegrityError:
            return False

    def audit_list(self, *, limit: int = 100, before_id: int | None = None,
                   action: str | None = None) -> list[dict[str, Any]]:
        query = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit)
        if before_id:
            query = query.where(AuditRecord.id < before_id)
        if action:
            query = query.where(AuditRecord.action == action)
        with self.db.session() as s:
            return [{"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "action": r.action,
                     "subject": r.subject, "outcome": r.outcome, "evidence": r.evidence,
                     "detail": r.detail} for r in s.scalars(query)]

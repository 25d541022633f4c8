"""ProtectedStore: the only code that queries the protected-picture tables.

Every add or removal writes a ``protected_changes`` row in the same transaction, so a
``ProtectedMatcher`` in any worker on any host sees the change on its next refresh. Removal
is a tombstone (who asked is in ``removed_reason``), never a silent delete. Derivative
matches of a scanned media live in ``media_scans.derivatives`` (a column added by revision
0006 and written through a Core table here, so the core model stays untouched).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, String, column, func, select, table, update

from plugin.errors import NotFound
from plugin.storage.database import Database
from plugin.storage.protected_models import ProtectedChange, ProtectedPicture

VISIBILITIES = ("public", "local")
_SCAN_DERIVATIVES = table("media_scans", column("media_id", String),
                          column("derivatives", JSON))


@dataclass(frozen=True)
class ProtectedInput:
    owner: str
    source: str
    fingerprint: bytes
    sha256: str
    pdq: str | None = None
    pdq_quality: int | None = None
    visibility: str = "public"
    origin: str = "local"
    status_id: str | None = None
    media_id: str | None = None


def picture_to_dict(row: ProtectedPicture) -> dict[str, Any]:
    return {"id": row.id, "owner": row.owner, "source": row.source, "origin": row.origin,
            "status_id": row.status_id, "media_id": row.media_id,
            "visibility": row.visibility, "sha256": row.sha256, "pdq": row.pdq,
            "pdq_quality": row.pdq_quality, "created_at": row.created_at.isoformat(),
            "removed_at": row.removed_at.isoformat() if row.removed_at else None,
            "removed_reason": row.removed_reason}


class ProtectedStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def protected_add(self, item: ProtectedInput) -> tuple[dict[str, Any], bool]:
        """Register a picture; the same (owner, source, sha256) live twice is one row."""
        if item.visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {VISIBILITIES}")
        with self.db.session() as s:
            found = s.scalar(select(ProtectedPicture).where(
                ProtectedPicture.owner == item.owner, ProtectedPicture.source == item.source,
                ProtectedPicture.sha256 == item.sha256, ProtectedPicture.removed_at.is_(None)))
            if found is not None:
                return picture_to_dict(found), False
            row = ProtectedPicture(**item.__dict__)
            s.add(row)
            s.flush()
            s.add(ProtectedChange(picture_id=row.id, op="add"))
            return picture_to_dict(row), True

    def protected_remove(self, ids: list[int], reason: str) -> int:
        """Tombstone these live pictures; return how many were live."""
        if not ids:
            return 0
        with self.db.session() as s:
            live = list(s.scalars(select(ProtectedPicture).where(
                ProtectedPicture.id.in_(ids), ProtectedPicture.removed_at.is_(None))))
            now = datetime.now(UTC)
            for row in live:
                row.removed_at, row.removed_reason = now, reason
                s.add(ProtectedChange(picture_id=row.id, op="remove"))
            return len(live)

    def protected_find(self, *, owner: str | None = None, status_id: str | None = None,
                       origin: str | None = None, sha256: str | None = None,
                       live: bool = True, limit: int = 10_000, after_id: int = 0
                       ) -> list[dict[str, Any]]:
        query = select(ProtectedPicture).where(ProtectedPicture.id > after_id) \
            .order_by(ProtectedPicture.id).limit(limit)
        if owner is not None:
            query = query.where(ProtectedPicture.owner == owner)
        if status_id is not None:
            query = query.where(ProtectedPicture.status_id == status_id)
        if origin is not None:
            query = query.where(ProtectedPicture.origin == origin)
        if sha256 is not None:
            query = query.where(ProtectedPicture.sha256 == sha256)
        if live:
            query = query.where(ProtectedPicture.removed_at.is_(None))
        with self.db.session() as s:
            return [picture_to_dict(r) for r in s.scalars(query)]

    def protected_get(self, picture_id: int) -> dict[str, Any]:
        with self.db.session() as s:
            row = s.get(ProtectedPicture, picture_id)
            if row is None:
                raise NotFound(f"no protected picture {picture_id}")
            return picture_to_dict(row)

    def protected_fingerprint(self, sha256: str, *, visibility: str = "public"
                              ) -> bytes | None:
        """The fingerprint of a live local picture with this SHA-256 (what peers may fetch)."""
        with self.db.session() as s:
            return s.scalar(select(ProtectedPicture.fingerprint).where(
                ProtectedPicture.sha256 == sha256, ProtectedPicture.origin == "local",
                ProtectedPicture.visibility == visibility,
                ProtectedPicture.removed_at.is_(None)).limit(1))

    def protected_active(self, ids: list[int] | None = None
                         ) -> list[tuple[dict[str, Any], bytes]]:
        """Live pictures with their fingerprint blobs (all, or these ids)."""
        query = select(ProtectedPicture).where(ProtectedPicture.removed_at.is_(None))
        if ids is not None:
            query = query.where(ProtectedPicture.id.in_(ids))
        with self.db.session() as s:
            return [(picture_to_dict(r), r.fingerprint) for r in s.scalars(query)]

    def changes_since(self, seq: int, limit: int = 10_000) -> list[tuple[int, str, int]]:
        with self.db.session() as s:
            rows = s.execute(select(ProtectedChange.seq, ProtectedChange.op,
                                    ProtectedChange.picture_id)
                             .where(ProtectedChange.seq > seq)
                             .order_by(ProtectedChange.seq).limit(limit)).all()
            return [(int(a), str(b), int(c)) for a, b, c in rows]

    def last_change(self) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.max(ProtectedChange.seq))) or 0)

    # -- derivative matches stored on media scans ------------------------------------------
    def scan_derivatives_set(self, media_id: str, value: dict[str, Any]) -> None:
        with self.db.session() as s:
            s.execute(update(_SCAN_DERIVATIVES).where(
                _SCAN_DERIVATIVES.c.media_id == media_id).values(derivatives=value))

    def scan_derivatives_get(self, media_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not media_ids:
            return {}
        with self.db.session() as s:
            rows = s.execute(select(_SCAN_DERIVATIVES.c.media_id,
                                    _SCAN_DERIVATIVES.c.derivatives)
                             .where(_SCAN_DERIVATIVES.c.media_id.in_(media_ids))).all()
            return {m: d for m, d in rows if d is not None}

"""ScanStore: received events and per-media scan results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from plugin.mastodon.payloads import MediaRef, StatusRef
from plugin.storage.database import Database
from plugin.storage.models import Event, MediaScan, utcnow

SCAN_FIELDS = ("media_id", "status_id", "media_type", "state", "error", "sha256", "pdq",
               "pdq_quality", "matches", "labels", "verdicts", "video", "url", "remote_url",
               "scanned_at")


class ScanStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def event_record(self, key: str, event: str, object_id: str | None) -> bool:
        """Record a delivery. True the first time this exact body is seen."""
        with self.db.session() as s:
            existing = s.scalar(select(Event).where(Event.key == key))
            if existing is not None:
                existing.deliveries += 1
                return False
            s.add(Event(key=key, event=event, object_id=object_id))
        return True

    def event_done(self, key: str) -> None:
        with self.db.session() as s:
            s.execute(update(Event).where(Event.key == key).values(processed_at=utcnow()))

    def scan_claim(self, status: StatusRef, media: MediaRef) -> MediaScan:
        """The scan row for this media, created pending if new (safe under concurrency)."""
        with self.db.session() as s:
            row = s.scalar(select(MediaScan).where(MediaScan.media_id == media.media_id))
            if row is not None:
                return row
        try:
            with self.db.session() as s:
                row = MediaScan(media_id=media.media_id, status_id=status.status_id,
                                status_url=status.url, account_id=status.account_id,
                                account_acct=status.account_acct, visibility=status.visibility,
                                media_type=media.media_type, url=media.url,
                                remote_url=media.remote_url, state="pending", matches=[],
                                labels=[])
                s.add(row)
            return row
        except IntegrityError:
            with self.db.session() as s:
                return s.scalars(select(MediaScan).where(
                    MediaScan.media_id == media.media_id)).one()

    def scan_save(self, media_id: str, **values: Any) -> None:
        values.setdefault("scanned_at", utcnow())
        with self.db.session() as s:
            s.execute(update(MediaScan).where(MediaScan.media_id == media_id).values(**values))

    def scans_for_status(self, status_id: str) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.scalars(select(MediaScan).where(MediaScan.status_id == status_id)
                             .order_by(MediaScan.id)).all()
            return [scan_to_dict(r) for r in rows]

    def scan_get(self, media_id: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.scalar(select(MediaScan).where(MediaScan.media_id == media_id))
            return scan_to_dict(row) if row else None

    def scans_since(self, since: datetime) -> int:
        with self.db.session() as s:
            return len(s.scalars(select(MediaScan.id).where(MediaScan.scanned_at >= since)).all())


def scan_to_dict(row: MediaScan) -> dict[str, Any]:
    out = {f: getattr(row, f) for f in SCAN_FIELDS}
    out["scanned_at"] = row.scanned_at.isoformat() if row.scanned_at else None
    return out

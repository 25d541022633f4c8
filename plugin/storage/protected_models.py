"""Tables of protected pictures: what the derivative matcher looks for, and its change log.

Kept out of ``models.py`` because protection is its own Alembic branch (revision ``0006``).

* ``protected_pictures`` — one row per picture someone asked us to protect: whose it is (the
  owner's actor URI), where it came from (a local status/media, a file, a peer), whether it
  may leave this instance (``visibility``: ``public`` is shared with peers, ``local`` never
  is), its derivative fingerprint (``plugin.derivatives.Fingerprint.to_bytes()``, never the
  pixels) and its PDQ and SHA-256. Withdrawal leaves a tombstone (``removed_at``/``reason``).
* ``protected_changes`` — append-only log (add | remove); every worker's ``ProtectedMatcher``
  replays it, as ``BankMatcher`` replays ``bank_changes``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.storage.models import Base, BigId, utcnow


class ProtectedPicture(Base):
    __tablename__ = "protected_pictures"
    __table_args__ = (Index("ix_protected_owner", "owner"),
                      Index("ix_protected_source", "source"),
                      Index("ix_protected_sha256", "sha256"),
                      Index("ix_protected_status", "status_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner: Mapped[str] = mapped_column(String(512))
    source: Mapped[str] = mapped_column(String(512))
    status_id: Mapped[str | None] = mapped_column(String(64))
    media_id: Mapped[str | None] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(300), default="local")
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]
    removed_reason: Mapped[str | None] = mapped_column(Text)


class ProtectedChange(Base):
    __tablename__ = "protected_changes"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True)
    picture_id: Mapped[int] = mapped_column(BigInteger)
    op: Mapped[str] = mapped_column(String(16))  # add | remove
    at: Mapped[datetime] = mapped_column(default=utcnow)

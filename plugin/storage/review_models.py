"""Tables of the moderators' side: accounts, the review queue, decisions, statements, holds.

They live on the core ``Base`` (one metadata, one ``migrate()``) but in their own module and
their own Alembic branch (``0005``), so the review domain evolves without touching the core
schema. Only ``plugin.storage.review_store`` queries them.

* ``moderators`` — the plugin's own accounts (argon2id hashes, see ``plugin.review.passwords``).
* ``review_items`` — one per media (or takedown copy) needing a human; ``key`` makes opening
  idempotent. ``due_at`` carries the 48-hour TAKE IT DOWN clock for NCII takedowns.
* ``review_decisions`` — every human decision on an item, in order (the item's history).
* ``review_opinions`` — true/false-positive opinions on hashes, the input the peer layer shares.
* ``review_allowlist`` — hashes a moderator cleared: never queued or refused again.
* ``review_statements`` — DSA-shaped statements of reasons for every decision.
* ``legal_holds`` — encrypted evidence of confirmed CSAM, kept one year (REPORT Act).
* ``takedown_requests`` — NCII intake: hashes and contact, never the picture.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.storage.models import Base, BigId, utcnow


class Moderator(Base):
    __tablename__ = "moderators"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="moderator")  # moderator | admin
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on password change or disable: sessions carrying an older epoch are refused.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class ReviewItem(Base):
    __tablename__ = "review_items"
    __table_args__ = (Index("ix_review_items_state", "state", "created_at"),
                      Index("ix_review_items_media", "media_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(16))  # scan | takedown | manual
    category: Mapped[str] = mapped_column(String(64))
    peer: Mapped[str | None] = mapped_column(String(255))
    media_id: Mapped[str | None] = mapped_column(String(64))
    status_id: Mapped[str | None] = mapped_column(String(64))
    status_url: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[str | None] = mapped_column(String(64))
    account_acct: Mapped[str | None] = mapped_column(String(512))
    media_url: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    pdq: Mapped[str | None] = mapped_column(String(64))
    findings: Mapped[list[Any]] = mapped_column(default=list)
    labels: Mapped[list[Any]] = mapped_column(default=list)
    takedown_id: Mapped[int | None] = mapped_column(BigId)
    state: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))


class ReviewDecision(Base):
    __tablename__ = "review_decisions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(BigId, index=True)
    moderator: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))  # confirm | dismiss | escalate
    bank: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewOpinion(Base):
    __tablename__ = "review_opinions"
    __table_args__ = (UniqueConstraint("hash_type", "value", "bank", "item_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hash_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(128))
    bank: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(64))
    opinion: Mapped[str] = mapped_column(String(32))  # true_positive | false_positive
    human_reviewed: Mapped[bool] = mapped_column(Boolean, default=True)
    share: Mapped[bool] = mapped_column(Boolean, default=False)  # bank visibility allows it
    moderator: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[int | None] = mapped_column(BigId)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AllowlistEntry(Base):
    __tablename__ = "review_allowlist"
    __table_args__ = (UniqueConstraint("hash_type", "value"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hash_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(128))
    moderator: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Statement(Base):
    """A statement of reasons (DSA Art. 17): the fields live in ``fields`` under DSA names."""

    __tablename__ = "review_statements"
    __table_args__ = (Index("ix_review_statements_at", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    item_id: Mapped[int | None] = mapped_column(BigId)
    subject: Mapped[str | None] = mapped_column(Text)
    restrictive: Mapped[bool] = mapped_column(Boolean, default=True)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)


class LegalHold(Base):
    __tablename__ = "legal_holds"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(BigId, unique=True)
    category: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    accesses: Mapped[int] = mapped_column(Integer, default=0)


class TakedownRequest(Base):
    __tablename__ = "takedown_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    contact: Mapped[str | None] = mapped_column(String(512))
    description: Mapped[str | None] = mapped_column(Text)
    hashes: Mapped[list[Any]] = mapped_column(default=list)
    via: Mapped[str] = mapped_column(String(16))  # form | api
    copies_found: Mapped[int] = mapped_column(Integer, default=0)

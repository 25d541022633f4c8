"""The relational schema, as SQLAlchemy 2 declarative models.

One schema for SQLite (the default) and PostgreSQL (by URL); Alembic migrations in
``plugin/storage/migrations`` create it. Stores (``plugin/storage/*_store.py``) are the only
code that queries these tables; everything else talks to the stores.

Conventions: times are timezone-aware UTC; JSON columns hold JSON-safe dicts/lists only;
nothing is deleted silently — removals leave a tombstone (``removed_at``) or a change-log row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes; SQLite drops the zone, so put UTC back on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime}


# BIGINT primary keys on PostgreSQL, INTEGER (the rowid alias, autoincrementing) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Event(Base):
    """A webhook delivery we accepted. ``key`` is the SHA-256 of the raw body."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    event: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    deliveries: Mapped[int] = mapped_column(Integer, default=1)


class MediaScan(Base):
    """The scan result of one media attachment as Mastodon identifies it."""

    __tablename__ = "media_scans"
    __table_args__ = (Index("ix_media_scans_status", "status_id"),
                      Index("ix_media_scans_sha256", "sha256"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    media_id: Mapped[str] = mapped_column(String(64), unique=True)
    status_id: Mapped[str] = mapped_column(String(64))
    status_url: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[str | None] = mapped_column(String(64))
    account_acct: Mapped[str | None] = mapped_column(String(512))
    visibility: Mapped[str | None] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(Text)
    remote_url: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None] = mapped_column(Integer)
    pdq_dihedral: Mapped[list[Any] | None]
    matches: Mapped[list[Any]] = mapped_column(JSON, default=list)
    labels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    verdicts: Mapped[list[Any] | None]
    video: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    scanned_at: Mapped[datetime | None]
    scan_ms: Mapped[float | None] = mapped_column(Float)


class Bank(Base):
    __tablename__ = "banks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    category: Mapped[str] = mapped_column(String(64))
    visibility: Mapped[str] = mapped_column(String(16), default="private")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    shareable: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]


class BankEntry(Base):
    """One hash in one bank. ``value_digest`` (SHA-256 of ``value``) carries the uniqueness
    and the lookups: a vPDQ value is far longer than a B-tree key may be."""

    __tablename__ = "bank_entries"
    # One full index only: every lookup names the bank, and each index on random digests
    # costs a random B-tree write per imported row. The partial index holds only tombstones
    # (few): adding entries asks whether any of them revive one, and without it that
    # question read the whole bank on every write (quadratic bulk imports).
    __table_args__ = (UniqueConstraint("bank_id", "hash_type", "value_digest"),
                      Index("ix_bank_entries_tombstones", "bank_id", "hash_type",
                            "value_digest", sqlite_where=text("removed_at IS NOT NULL"),
                            postgresql_where=text("removed_at IS NOT NULL")))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    hash_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    value_digest: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(64), default="local")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[str | None] = mapped_column(String(128))
    removed_reason: Mapped[str | None] = mapped_column(Text)


class BankOpinion(Base):
    """What one reviewer (a moderator, a peer) thinks of one entry; one opinion per reviewer."""

    __tablename__ = "bank_opinions"
    __table_args__ = (UniqueConstraint("entry_id", "by"),
                      Index("ix_bank_opinions_entry", "entry_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("bank_entries.id"))
    opinion: Mapped[str] = mapped_column(String(32))
    by: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class BankChange(Base):
    """Append-only log of bank changes; matchers in every worker replay it to stay current."""

    __tablename__ = "bank_changes"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int | None] = mapped_column(BigInteger)
    bank_id: Mapped[int] = mapped_column(BigInteger)
    op: Mapped[str] = mapped_column(String(16))  # add | remove | bank
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Action(Base):
    """One step of what the policy decided to do, executed once against the instance API.

    ``key`` makes it idempotent: the same decision for the same target is one row, whatever
    the number of webhook re-deliveries or job retries.
    """

    __tablename__ = "actions"
    __table_args__ = (Index("ix_actions_state", "state"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]


class AuditRecord(Base):
    """Append-only audit log: who decided what, on which evidence, with what outcome."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_at", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str | None] = mapped_column(String(255), unique=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class KeyValue(Base):
    """Small durable state: cursors of periodic jobs, schema facts."""

    __tablename__ = "kv"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

"""Tables of the federation domain: peers, the change log we publish, the records we received.

Kept out of ``models.py`` (the core schema) because federation is its own Alembic branch
(revision ``0003``). Same ``Base``, same conventions: aware UTC times, JSON-safe columns,
nothing deleted silently (a withdrawn change-log record keeps its row, marked ``withdrawn_at``;
a retracted received record keeps its row, marked ``state``).

* ``fed_peers`` — one row per peer domain: where to reach it, its published keys, both halves
  of the pairing handshake, the admin's trust settings, and the pull cursor.
* ``fed_changelog`` — records this instance issues, in id (UUIDv7) order: the feed of §6.
  ``signed`` is the exact JSON text served, so a page is a string join, not a re-serialise.
* ``fed_received`` — records peers sent us, kept as received (``record``), with the local
  bank entry they feed and their state (active, retracted, expired, superseded, quarantined).
* ``fed_state`` — small durable state: the publisher's bank-change cursor; its row is also
  the publisher's lock (see ``ChangeLogStore``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from plugin.storage.models import Base, BigId, utcnow


class Peer(Base):
    __tablename__ = "fed_peers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    base_url: Mapped[str] = mapped_column(String(512))
    keys: Mapped[list[Any]] = mapped_column(JSON, default=list)
    keys_fetched_at: Mapped[datetime | None]
    protocols: Mapped[list[Any]] = mapped_column(JSON, default=list)
    we_approved: Mapped[bool] = mapped_column(Boolean, default=False)
    they_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    rejected: Mapped[bool] = mapped_column(Boolean, default=False)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    message: Mapped[str | None] = mapped_column(Text)
    trust_level: Mapped[str] = mapped_column(String(16), default="normal")
    categories: Mapped[list[Any] | None] = mapped_column(JSON)
    auto_act: Mapped[bool] = mapped_column(Boolean, default=False)
    max_action: Mapped[str] = mapped_column(String(16), default="review")
    read_visibility: Mapped[str] = mapped_column(String(16), default="peers")
    cursor: Mapped[str] = mapped_column(String(64), default="0")
    backfilled_at: Mapped[datetime | None]
    last_sync_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    retry_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[bool] = mapped_column(Boolean, default=False)
    quarantine_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChangeLogRecord(Base):
    __tablename__ = "fed_changelog"
    __table_args__ = (Index("ix_fed_changelog_entry", "bank_entry_id"),
                      Index("ix_fed_changelog_hash", "hash_type", "hash_value"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(64))
    visibility: Mapped[str] = mapped_column(String(16))
    hash_type: Mapped[str | None] = mapped_column(String(32))
    hash_value: Mapped[str | None] = mapped_column(String(128))
    bank_entry_id: Mapped[int | None] = mapped_column(BigInteger)
    target: Mapped[str | None] = mapped_column(String(36))
    signed: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReceivedRecord(Base):
    __tablename__ = "fed_received"
    __table_args__ = (UniqueConstraint("peer_id", "record_id"),
                      Index("ix_fed_received_hash_key", "peer_id", "hash_key"),
                      Index("ix_fed_received_state", "state", "expires_at"),
                      Index("ix_fed_received_peer_time", "peer_id", "received_at"),
                      Index("ix_fed_received_type", "type", "id"),
                      Index("ix_fed_received_unchecked", "id",
                            sqlite_where=text("proof_checked_at IS NULL"),
                            postgresql_where=text("proof_checked_at IS NULL")))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    peer_id: Mapped[int] = mapped_column(BigInteger)
    record_id: Mapped[str] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(16))
    hash_type: Mapped[str | None] = mapped_column(String(32))
    hash_value: Mapped[str | None] = mapped_column(String(128))
    #: ``received_store.hash_key(hash_type, hash_value)``: what lookups by hash probe (a small
    #: index entry; migration 0012 says why)
    hash_key: Mapped[int | None] = mapped_column(BigInteger)
    category: Mapped[str | None] = mapped_column(String(64))
    bank: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default="active")
    expires_at: Mapped[datetime | None]
    record: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the record's Ed25519 proof was verified (NULL: not yet; see migration 0010),
    #: and the refusal code if it failed.
    proof_checked_at: Mapped[datetime | None]
    proof_error: Mapped[str | None] = mapped_column(String(32))


class FederationState(Base):
    __tablename__ = "fed_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

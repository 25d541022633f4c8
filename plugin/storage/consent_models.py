"""Tables of the consent domain (Alembic branch ``0007``).

* ``consent_choices`` — one row per person who stated a choice on this instance: their actor
  URI, their Mastodon account id and handle, and the current choice. A person with no row
  follows the instance default (stored in ``kv``; ``CONSENTRY_CONSENT_DEFAULT`` ships
  ``not_allowed``).
* ``consent_history`` — append-only: every change of a choice, with its time and how it was
  made (the consent page, the admin, leaving the instance).
* ``consent_remote`` — the newest consent record per actor received from a peer (the full
  signed record kept as received), and its state (active, retracted, tombstoned).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.storage.models import Base, BigId, utcnow


class ConsentChoice(Base):
    __tablename__ = "consent_choices"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    actor: Mapped[str] = mapped_column(String(512), unique=True)
    account_id: Mapped[str | None] = mapped_column(String(64))
    acct: Mapped[str | None] = mapped_column(String(512))
    choice: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None]


class ConsentHistory(Base):
    __tablename__ = "consent_history"
    __table_args__ = (Index("ix_consent_history_actor", "actor", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    actor: Mapped[str] = mapped_column(String(512))
    choice: Mapped[str] = mapped_column(String(16))
    previous: Mapped[str | None] = mapped_column(String(16))
    via: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class RemoteConsent(Base):
    __tablename__ = "consent_remote"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    actor: Mapped[str] = mapped_column(String(512), unique=True)
    issuer: Mapped[str] = mapped_column(String(253))
    peer_id: Mapped[int] = mapped_column(BigInteger)
    record_id: Mapped[str] = mapped_column(String(36))
    ai_edit: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="active")
    record: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

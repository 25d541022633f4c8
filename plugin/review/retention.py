"""Retention: what the moderators' side keeps, and for how long (``docs/compliance.md``).

* Legal holds (confirmed CSAM evidence): one year from confirmation, then deleted.
* Decided review items and their decisions: ``CONSENTRY_REVIEW_RETENTION_DAYS`` (180) after
  the decision, unless under legal hold.
* Statements of reasons, opinions, allowlist, bank entries and the audit log are kept: they
  are the record of what was decided and why (statements must stay available for the
  Transparency Database and for complaints).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from plugin.settings import Settings
from plugin.storage.models import utcnow
from plugin.storage.review_store import ReviewStore


def purge(store: ReviewStore, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    now = now or utcnow()
    return {"legal_holds": store.holds_purge(now),
            "review_items": store.items_purge(now - timedelta(days=settings.review_retention_days))}

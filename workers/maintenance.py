"""Periodic maintenance jobs (queue ``default``): retention of the moderators' records."""

from __future__ import annotations

from plugin.review.retention import purge
from plugin.storage.review_store import ReviewStore
from workers import context


def purge_expired_job() -> dict[str, int]:
    """Delete expired legal holds and old decided review items (``docs/compliance.md``)."""
    svc = context.services()
    return purge(ReviewStore(svc.db), svc.settings)

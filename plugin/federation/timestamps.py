"""RFC 3339 timestamps as used in records and proofs.

Records are signed as JSON text, so a timestamp's exact spelling is part of what is signed; we
therefore *emit* one spelling only (UTC, ``Z``, whole seconds: ``2025-01-31T12:00:00Z``) and
*accept* the RFC 3339 profile of ISO 8601 only (no week dates, no missing offsets, which
``datetime.fromisoformat`` would otherwise allow).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

__all__ = ["format_rfc3339", "parse_rfc3339"]

_RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def format_rfc3339(when: datetime | float) -> str:
    """Format an aware datetime or Unix seconds as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError("naive datetime; pass an aware (UTC) one")
        dt = when.astimezone(UTC)
    else:
        dt = datetime.fromtimestamp(when, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: object) -> datetime:
    """Parse an RFC 3339 date-time into an aware datetime; raise ``ValueError`` otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    return _parse(text)


@lru_cache(maxsize=4096)
def _parse(text: str) -> datetime:
    """Cached: a feed page's 1,000 records carry three timestamps each, mostly the same few
    seconds (a cold sync parses 3 x 10^6); datetimes are immutable, errors are not cached."""
    if not _RFC3339_RE.match(text):
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    base = text
    frac = re.search(r"\.(\d+)", text)
    if frac and len(frac.group(1)) > 6:  # datetime holds microseconds only
        base = text.replace(frac.group(0), "." + frac.group(1)[:6])
    return datetime.fromisoformat(base)

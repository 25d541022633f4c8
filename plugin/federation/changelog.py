"""Our change feed: publishing signed records from bank changes, and serving pages of them.

The feed is generic over record types: a row is (id, type, signed JSON, category,
visibility); the transport never looks inside. Hash records come from the bank change log:
``publish_bank_changes`` replays the bank change log (as ``BankStore.changes_since`` does)
with its own cursor, kept in ``fed_state`` in the same transaction as the records it produced
(a crash neither loses nor duplicates). A gap in the bank change sequence younger than a few
seconds (a PostgreSQL transaction not yet committed) is waited for rather than skipped.
Consent records can be appended later with ``publish_record``, with no transport change.

What is published: entries of enabled banks whose visibility is ``peers`` or ``vetted``,
whose bank is ``shareable`` (licensed lists never leave), whose source is not a peer (we do
not re-issue other instances' hashes as ours), and CSAM-category entries only from ``vetted``
banks. An entry removed from such a bank becomes a ``retraction`` of its live record, and the
record stops being served (§6). With ``federation_record_ttl_s`` > 0, records carry an expiry
and are re-issued (new id, same content) when they enter the last quarter of their life.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from .context import Federation
from .records import sign_record
from .schema import HASH_TYPES, validate_record
from .timestamps import format_rfc3339

__all__ = ["LOCAL_TO_WIRE", "WIRE_TO_LOCAL", "changes_page", "publish_bank_changes",
           "publish_record", "recommended_action"]

LOCAL_TO_WIRE = {"nonconsensual_ai_edit": "ai_nonconsensual_edit", "terror": "terrorism"}
WIRE_TO_LOCAL = {"ai_nonconsensual_edit": "nonconsensual_ai_edit", "terrorism": "terror",
                 "violent_extremism": "terror", "csam": "csam", "ncii": "ncii", "spam": "spam"}
_REJECT = {"csam", "ncii", "nonconsensual_ai_edit", "terror"}
BATCH = 1000
MAX_PAGE_BYTES = 1_000_000 - 4096  # a page must stay under the 1 MiB receivers accept


def recommended_action(local_category: str) -> str:
    return "reject" if local_category in _REJECT else "review"


def _sign(fed: Federation, record: dict[str, Any]) -> str:
    identity = fed.identity
    signed = sign_record(record, identity.private_key, identity.key_id, fed.domain)
    return json.dumps(signed, separators=(",", ":"), ensure_ascii=False)


def _envelope(fed: Federation, record_id: str, rtype: str, now: float,
              payload: dict[str, Any], ttl_s: int) -> dict[str, Any]:
    return {"type": rtype, "id": record_id, "issuer": fed.domain,
            "issued": format_rfc3339(now),
            "expires": format_rfc3339(now + ttl_s) if ttl_s else None, **payload}


def _expiry(record: dict[str, Any]) -> datetime | None:
    return datetime.fromisoformat(record["expires"].replace("Z", "+00:00")) \
        if record["expires"] else None


def publish_record(fed: Federation, rtype: str, payload: dict[str, Any], *, category: str,
                   visibility: str, ttl_s: int = 0) -> str:
    """Append one record of any type (e.g. consent) to the feed; return its id."""
    with fed.changelog.publishing() as pub:
        record_id = pub.next_id()
        record = _envelope(fed, record_id, rtype, time.time(), payload, ttl_s)
        validate_record(record)
        pub.add(id=record_id, type=rtype, category=category, visibility=visibility,
                signed=_sign(fed, record), expires_at=_expiry(record))
    return record_id


def _hash_row(fed: Federation, pub: Any, entry: Any, bank: Any, now: float,
              ttl_s: int, published: str | None = None) -> dict[str, Any]:
    record_id = pub.next_id()
    payload = {"hash_type": entry.hash_type, "hash_value": entry.value,
               "category": LOCAL_TO_WIRE.get(bank.category, bank.category), "labels": [],
               "recommended_action": recommended_action(bank.category),
               "opinion": "true_positive", "human_reviewed": True,
               "published": published or format_rfc3339(entry.created_at)}
    record = _envelope(fed, record_id, "hash", now, payload, ttl_s)
    return {"id": record_id, "type": "hash", "category": bank.category,
            "visibility": bank.visibility, "hash_type": entry.hash_type,
            "hash_value": entry.value, "bank_entry_id": entry.id, "target": None,
            "signed": _sign(fed, record), "expires_at": _expiry(record),
            "withdrawn_at": None, "withdrawn_by": None, "created_at": datetime.now(UTC)}


def _shared(entry: Any, bank: Any) -> bool:
    if not bank.enabled or not bank.shareable or bank.visibility not in ("peers", "vetted"):
        return False
    if bank.category == "csam" and bank.visibility != "vetted":
        return False
    return not (entry.source or "").startswith("peer:") and entry.hash_type in HASH_TYPES


def _retract(fed: Federation, pub: Any, target: Any, now: float, reason: str) -> dict:
    record_id = pub.next_id()
    record = _envelope(fed, record_id, "retraction", now,
                       {"target": target.id, "reason": reason}, 0)
    pub.withdraw(target, record_id)
    return {"id": record_id, "type": "retraction", "category": target.category,
            "visibility": target.visibility, "hash_type": target.hash_type,
            "hash_value": target.hash_value, "bank_entry_id": None, "target": target.id,
            "signed": _sign(fed, record), "expires_at": None, "withdrawn_at": None,
            "withdrawn_by": None, "created_at": datetime.now(UTC)}


def publish_bank_changes(fed: Federation, *, batch: int = BATCH) -> dict[str, int]:
    """Turn new bank changes into feed records; return counts. Safe to run concurrently."""
    ttl_s = fed.settings.federation_record_ttl_s
    published = retracted = 0
    while True:
        with fed.changelog.publishing() as pub:
            seq = int(pub.cursor.get("bank_seq", 0))
            changes = pub.bank_changes(seq, batch)
            if not changes:
                break
            now = time.time()
            adds = [e for _, op, e in changes if op == "add" and e]
            removes = [e for _, op, e in changes if op == "remove" and e]
            info = pub.entries(set(adds) | set(removes))
            live = {r.bank_entry_id: r for r in pub.live_for_entries(set(adds) | set(removes))}
            rows = []
            for _, op, entry_id in changes:
                if entry_id is None or entry_id not in info:
                    continue
                entry, bank = info[entry_id]
                current = live.get(entry_id)
                if op == "add" and current is None and entry.removed_at is None \
                        and _shared(entry, bank):
                    row = _hash_row(fed, pub, entry, bank, now, ttl_s)
                    rows.append(row)
                    live[entry_id] = _Live(row)
                    published += 1
                elif op == "remove" and current is not None and entry.removed_at is not None:
                    rows.append(_retract(fed, pub, current, now, entry.removed_reason
                                         or "withdrawn by the issuer"))
                    live.pop(entry_id)
                    retracted += 1
            pub.s.flush()
            pub.add_many(rows)
            pub.cursor = {**pub.cursor, "bank_seq": changes[-1][0]}
    refreshed = _refresh_expiring(fed, ttl_s) if ttl_s else 0
    return {"published": published, "retracted": retracted, "refreshed": refreshed}


class _Live:
    """A record added earlier in the same batch (not yet flushed as an ORM row)."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.__dict__["row"] = row

    def __getattr__(self, name: str) -> Any:
        return self.__dict__["row"][name]

    def __setattr__(self, name: str, value: Any) -> None:  # withdraw() on a pending row
        self.__dict__["row"][name] = value


def _refresh_expiring(fed: Federation, ttl_s: int) -> int:
    """Re-issue live hash records in the last quarter of their life (new id supersedes)."""
    done = 0
    with fed.changelog.publishing() as pub:
        soon = datetime.now(UTC) + timedelta(seconds=ttl_s / 4)
        rows = []
        for old in pub.expiring(soon, BATCH):
            info = pub.entries([old.bank_entry_id]) if old.bank_entry_id else {}
            if old.bank_entry_id not in info:
                continue
            entry, bank = info[old.bank_entry_id]
            if entry.removed_at is not None or not _shared(entry, bank):
                continue
            published = json.loads(old.signed).get("published")
            rows.append(_hash_row(fed, pub, entry, bank, time.time(), ttl_s, published))
            pub.withdraw(old, rows[-1]["id"])
            done += 1
        pub.s.flush()
        pub.add_many(rows)
    return done


def changes_page(fed: Federation, peer: dict[str, Any], since: str,
                 limit: int) -> dict[str, Any]:
    """The §6 response body for *peer*, as bytes-ready text parts."""
    visibilities = ("peers", "vetted") if peer["read_visibility"] == "vetted" else ("peers",)
    texts, nxt, more = fed.changelog.changes_page(
        since, limit, visibilities=visibilities, now=datetime.now(UTC))
    size, kept = 64, []
    for text in texts:
        size += len(text) + 1
        if size > MAX_PAGE_BYTES and kept:
            more = True
            break
        kept.append(text)
    if len(kept) < len(texts):
        nxt = json.loads(kept[-1])["id"]
    return {"records_json": kept, "next": nxt if kept else since, "has_more": more}

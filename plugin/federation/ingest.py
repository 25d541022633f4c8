"""Applying a verified page of a peer's records to our banks (the receiving half of §6).

Received hash records become entries of a local bank per peer and category,
``peer:<domain>:<category>`` (created through ``BankStore``, private, not shareable, entries
with ``source="peer:<domain>"``), so the ordinary ``BankMatcher`` matches them and
``plugin.federation.trust`` decides what a match may cause.

Rules, in page order (the feed is ordered; create-then-retract must not run backwards):

* a record whose ``issuer`` is not the peer, or whose proof fails, is refused and counted
  (reported to our admin in the sync summary and the audit log), never applied;
* unknown record types are skipped; consent records are stored as received for the consent
  module (no bank entry);
* a newer hash record for the same (hash_type, hash_value, category) supersedes older ones;
  ``false_positive`` opinions remove the entry; categories the peer may not send are stored
  as ``filtered``; hashes of a quarantined peer are stored as ``quarantined``;
* a sha256 that already matches many local pictures (``federation_popular_limit``) is
  quarantined on arrival (a poisoned list aimed at popular images);
* a retraction or tombstone tombstones the bank entry through ``BankStore.entry_remove`` (an
  audit trail, never a silent delete), withdraws pending actions that depended on it, and
  writes an audit entry.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from plugin.errors import NotFound

from .changelog import WIRE_TO_LOCAL
from .context import Federation
from .schema import RECORD_TYPES
from .timestamps import parse_rfc3339

__all__ = ["apply_page", "bank_name", "expire_received", "withdraw_entry"]


def bank_name(domain: str, local_category: str) -> str:
    name = f"peer:{domain}:{local_category}"
    if len(name) <= 128:
        return name
    import hashlib

    return f"peer:{hashlib.sha256(domain.encode()).hexdigest()[:32]}:{local_category}"


def _expires(record: dict[str, Any]) -> datetime | None:
    return parse_rfc3339(record["expires"]).astimezone(UTC) if record.get("expires") else None


class _Page:
    """Accumulates the writes of one page so they go to the database in a few statements."""

    def __init__(self, fed: Federation, peer: dict[str, Any]) -> None:
        self.fed, self.peer = fed, peer
        self.rows: list[dict[str, Any]] = []
        self.adds: dict[str, list[tuple[str, str, str | None]]] = defaultdict(list)
        self.bank_ids: dict[str, int] = {}
        self.counts: dict[str, int] = defaultdict(int)

    def bank(self, local_category: str) -> str:
        name = bank_name(self.peer["domain"], local_category)
        if name not in self.bank_ids:
            banks = self.fed.services.banks
            found = banks.bank_find(name)
            if found is None:
                from plugin.errors import Conflict

                try:
                    found = banks.bank_create(
                        name, local_category, visibility="private", shareable=False,
                        description=f"hashes received from peer {self.peer['domain']}")
                except Conflict:
                    found = banks.bank_get(name)
            self.bank_ids[name] = found["id"]
        return name

    def row(self, record: dict[str, Any], state: str, *, bank: str | None = None,
            category: str | None = None) -> None:
        self.rows.append({
            "peer_id": self.peer["id"], "record_id": record["id"], "type": record["type"],
            "hash_type": record.get("hash_type"), "hash_value": record.get("hash_value"),
            "category": category, "bank": bank, "state": state,
            "expires_at": _expires(record), "received_at": datetime.now(UTC),
            "record": json.dumps(record, separators=(",", ":"), ensure_ascii=False)})
        self.counts[state] += 1

    def flush(self) -> None:
        received = self.fed.received
        for name, items in self.adds.items():
            received.entries_add_bulk(self.bank_ids[name], items,
                                      source=f"peer:{self.peer['domain']}")
        received.received_insert_many(self.rows)
        self.adds.clear()
        self.rows = []


def apply_page(fed: Federation, peer: dict[str, Any], records: list[Any],
               verdicts: list[str | None], *, quarantine: bool = False) -> dict[str, int]:
    """Apply *records* (with their verification *verdicts*) in order; return counts."""
    page = _Page(fed, peer)
    allowed = peer.get("categories")
    ids = [r["id"] for r in records if isinstance(r, dict) and isinstance(r.get("id"), str)]
    known = fed.received.received_known(peer["id"], ids) if ids else set()
    hashes = [r for r, v in zip(records, verdicts, strict=True) if v is None
              and r.get("type") == "hash" and r["id"] not in known]
    popular = fed.received.local_media_counts(
        "sha256", [r["hash_value"] for r in hashes if r["hash_type"] == "sha256"])
    superseding = {(r["hash_type"], r["hash_value"]) for r in hashes}
    previous = fed.received.received_active_for(peer["id"], list(superseding))
    older: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for row in previous:
        older[(row["hash_type"], row["hash_value"], row["category"])].append(row["record_id"])
    superseded: list[str] = []

    for record, verdict in zip(records, verdicts, strict=True):
        if verdict is not None:
            page.counts[f"refused_{verdict}"] += 1
            continue
        if record["id"] in known:
            page.counts["duplicate"] += 1
            continue
        rtype = record.get("type")
        if rtype not in RECORD_TYPES:
            page.counts["skipped_type"] += 1
            continue
        if rtype in ("retraction", "tombstone"):
            page.flush()
            _withdraw_target(fed, peer, record, page)
            continue
        if rtype != "hash":
            page.row(record, "stored")
            continue
        wire = record["category"]
        local = WIRE_TO_LOCAL.get(wire, "other")
        key = (record["hash_type"], record["hash_value"], wire)
        superseded.extend(older.pop(key, []))
        older[key].append(record["id"])
        if allowed is not None and wire not in allowed and local not in allowed:
            page.row(record, "filtered", category=wire)
        elif quarantine or peer.get("quarantined"):
            page.row(record, "quarantined", bank=page.bank(local), category=wire)
        elif popular.get(record["hash_value"], 0) >= fed.settings.federation_popular_limit:
            page.row(record, "quarantined", bank=page.bank(local), category=wire)
            _audit(fed, peer, "federation.quarantine_hash", record["hash_value"],
                   {"reason": "matches many local pictures",
                    "local_matches": popular[record["hash_value"]]})
        elif record["opinion"] == "false_positive":
            name = page.bank(local)
            page.flush()
            fed.received.received_supersede(peer["id"], superseded)
            superseded.clear()
            withdraw_entry(fed, peer, name, record["hash_type"], record["hash_value"],
                           reason=f"{peer['domain']} now says false positive", record=record)
            page.row(record, "negative", bank=name, category=wire)
        else:
            name = page.bank(local)
            page.adds[name].append((record["hash_type"], record["hash_value"],
                                    f"{peer['domain']} record {record['id']}"))
            page.row(record, "active", bank=name, category=wire)
    page.flush()
    fed.received.received_supersede(peer["id"], superseded)
    return dict(page.counts)


def _withdraw_target(fed: Federation, peer: dict[str, Any], record: dict[str, Any],
                     page: _Page) -> None:
    target = fed.received.received_get(peer["id"], [record["target"]]).get(record["target"])
    state = "retracted" if record["type"] == "retraction" else "tombstoned"
    if target is not None and target["state"] in ("active", "quarantined", "filtered"):
        if target["bank"] and target["state"] == "active":
            withdraw_entry(fed, peer, target["bank"], target["hash_type"],
                           target["hash_value"], record=record,
                           reason=f"{state} by {peer['domain']}: "
                                  f"{record.get('reason') or 'no reason given'}")
        fed.received.received_set_state([target["id"]], state)
    page.row(record, "applied" if target else "orphan")
    page.flush()


def withdraw_entry(fed: Federation, peer: dict[str, Any], bank: str, hash_type: str,
                   value: str, *, reason: str, record: dict[str, Any] | None = None) -> None:
    """Tombstone a peer-fed bank entry, withdraw pending actions on it, audit the decision."""
    others = [r for r in fed.received.received_active_for(peer["id"], [(hash_type, value)])
              if r["bank"] == bank and (record is None or r["record_id"] != record.get("target"))]
    if others:  # another live record of this peer still asserts the entry
        return
    entry_ids = _entry_ids(fed, bank, hash_type, value)
    try:
        fed.services.banks.entry_remove(bank, hash_type, value, by=f"peer:{peer['domain']}",
                                        reason=reason)
    except NotFound:
        return
    withdrawn = _withdraw_actions(fed, entry_ids, reason)
    _audit(fed, peer, "federation.withdraw", f"{hash_type}:{value}",
           {"bank": bank, "reason": reason, "record": (record or {}).get("id"),
            "withdrawn_actions": withdrawn})


def _entry_ids(fed: Federation, bank: str, hash_type: str, value: str) -> list[int]:
    from sqlalchemy import select

    from plugin.storage.banks import value_digest
    from plugin.storage.models import Bank, BankEntry

    with fed.services.db.session() as s:
        return list(s.scalars(select(BankEntry.id).join(Bank).where(
            Bank.name == bank, BankEntry.hash_type == hash_type,
            BankEntry.value_digest == value_digest(value),
            BankEntry.removed_at.is_(None))))


def _withdraw_actions(fed: Federation, entry_ids: list[int], reason: str) -> list[int]:
    """Pending actions whose only evidence is these entries become no-ops (kept, audited)."""
    if not entry_ids:
        return []
    wanted = set(entry_ids)
    actions = fed.services.actions
    out = []
    for action in actions.actions_list(state="pending", limit=1000):
        findings = (action.get("evidence") or {}).get("findings") or []
        matches = [f.get("match") for f in findings if f.get("match")]
        if matches and all(m.get("entry_id") in wanted for m in matches) and \
                len(matches) == len(findings):
            actions.action_finish(action["id"], "failed", error=f"withdrawn: {reason}",
                                  result={"withdrawn": True})
            out.append(action["id"])
    return out


def _audit(fed: Federation, peer: dict[str, Any], action: str, subject: str,
           detail: dict[str, Any]) -> None:
    fed.services.audit.audit_append(actor=f"peer:{peer['domain']}", action=action,
                                    subject=subject, outcome="done", detail=detail)


def expire_received(fed: Federation) -> int:
    """Remove entries whose received record expired (expiry honoured, audited)."""
    done = 0
    while True:
        expired = fed.received.received_expired(datetime.now(UTC))
        if not expired:
            return done
        for row in expired:
            peer = fed.peers.peer_get(row["peer_id"])
            fed.received.received_set_state([row["id"]], "expired")
            if row["bank"] and row["state"] == "active":
                withdraw_entry(fed, peer, row["bank"], row["hash_type"], row["hash_value"],
                               reason=f"record {row['record_id']} expired")
            done += 1

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

"Verified" may mean structurally only: a backfill page's hash records arrive with
``checked=False`` (their Ed25519 proofs are verified later by ``plugin.federation.proofs``,
see ``docs/peer-protocol.md`` §6.1) and are stored with ``proof_checked_at`` NULL.

Cost (a cold sync applies 10^6 records): a page's writes are a handful of multi-row
statements (``ReceivedStore.received_apply``: entries, bank changes, received rows), handed
to a ``PageWriter`` that commits a backfill's pages in large batches on a helper thread while
the next pages are decided (``_PageWrite`` merges them); the duplicate lookup is skipped
when every id is above the largest received (always, on a backfill); records are stored with
orjson. ``apply_page`` with ``existing`` re-applies held records in place
(``plugin.federation.release``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from plugin.errors import NotFound
from plugin.storage.received_store import PreparedWrite, hash_keys

from .changelog import WIRE_TO_LOCAL
from .context import Federation
from .page_writer import PageWriter
from .schema import RECORD_TYPES
from .timestamps import parse_rfc3339

__all__ = ["RunMemo", "apply_page", "bank_name", "expire_received", "withdraw_entry"]




def bank_name(domain: str, local_category: str) -> str:
    name = f"peer:{domain}:{local_category}"
    if len(name) <= 128:
        return name
    import hashlib

    return f"peer:{hashlib.sha256(domain.encode()).hexdigest()[:32]}:{local_category}"


def _expires(record: dict[str, Any]) -> datetime | None:
    return parse_rfc3339(record["expires"]).astimezone(UTC) if record.get("expires") else None


@dataclass
class RunMemo:
    """What the pages of one sync run (one peer) remember of the pages before them.

    Why: a backfill decides 1,000 pages, and each asked the database the same questions: the
    largest record id received (for the duplicate lookup) and, per hash, whether an earlier
    record asserts it (the supersede lookup: 1,000 index probes a page, 12% of the deciding
    thread's interpreter time at 2 x 10^5 records, all misses on a first backfill). The first
    page asks once; later pages know that ids only grow and which hashes this run has sent.
    """

    bank_ids: dict[str, int] = field(default_factory=dict)  # bank name -> id
    highest_id: str | None = None  # largest record id stored before the run or seen in it
    stored_before: bool | None = None  # the peer had received rows when the run began
    hash_keys: set[int] = field(default_factory=set)  # hash_key of every hash record seen

    def may_be_stored(self, keys: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
        """Of these (hash_type, hash_value) pairs (with their ``hash_key``), those an earlier
        record of this peer may assert."""
        if self.stored_before:
            return keys
        return {pair: key for pair, key in keys.items() if key in self.hash_keys}


class _Page:
    """Accumulates the writes of one page so they go to the database in a few statements.

    New records become inserted rows; on a replay (``existing``: record id -> row id) the
    same decisions update the rows already stored instead.
    """

    def __init__(self, fed: Federation, peer: dict[str, Any],
                 existing: dict[str, int] | None = None,
                 writer: PageWriter | None = None, memo: RunMemo | None = None) -> None:
        self.fed, self.peer, self.writer = fed, peer, writer
        self.existing = existing or {}
        self.rows: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.adds: dict[str, list[tuple[str, str, str | None]]] = defaultdict(list)
        self.bank_ids: dict[str, int] = memo.bank_ids if memo is not None else {}
        self.counts: dict[str, int] = defaultdict(int)
        self.now = datetime.now(UTC)
        self.checked: dict[str, bool] = {}
        self.hash_keys: dict[tuple[str, str], int] = {}  # (hash_type, value) -> hash_key

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
        self.counts[state] += 1
        row_id = self.existing.get(record["id"])
        if row_id is not None:
            self.updates.append({"row_id": row_id, "new_state": state, "new_bank": bank,
                                 "new_category": category})
            return
        self.rows.append({
            "peer_id": self.peer["id"], "record_id": record["id"], "type": record["type"],
            "hash_type": record.get("hash_type"), "hash_value": record.get("hash_value"),
            "hash_key": self.hash_keys.get((record.get("hash_type"), record.get("hash_value"))),
            "category": category, "bank": bank, "state": state,
            "expires_at": _expires(record), "received_at": self.now,
            "proof_checked_at": self.now if self.checked.get(record["id"], True) else None,
            # orjson: compact UTF-8 like json.dumps(ensure_ascii=False), 5x faster; a cold
            # sync stores 10^6 of these
            "record": orjson.dumps(record).decode()})

    def flush(self) -> None:
        """Write what is pending now (the pages gathered or in flight, if any, first)."""
        if self.writer is not None:
            self.writer.drain()
        self.take()()

    def take(self, superseded: list[str] | None = None,
             cursor: tuple[str, bool] | None = None) -> _PageWrite:
        """The pending writes, supersessions and *cursor*, as one write; start afresh."""
        write = _PageWrite(
            self.fed, self.peer["id"], f"peer:{self.peer['domain']}",
            {self.bank_ids[name]: items for name, items in self.adds.items()},
            self.rows, self.updates, list(superseded or []), cursor)
        self.adds = defaultdict(list)
        self.rows, self.updates = [], []
        return write


@dataclass
class _PageWrite:
    """One or more pages' writes, run by ``ReceivedStore.received_apply`` as one transaction
    (the ``Batch`` a ``PageWriter`` gathers)."""

    fed: Federation
    peer_id: int
    source: str
    adds: dict[int, list[tuple[str, str, str | None]]]
    rows: list[dict[str, Any]]
    updates: list[dict[str, Any]]
    superseded: list[str]
    cursor: tuple[str, bool] | None
    prepared: PreparedWrite | None = None

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.updates)

    def absorb(self, later: _PageWrite) -> None:
        """Append a later page: its rows after ours, its supersessions and cursor win."""
        for bank_id, items in later.adds.items():
            self.adds.setdefault(bank_id, []).extend(items)
        self.rows += later.rows
        self.updates += later.updates
        self.superseded += later.superseded
        self.cursor = later.cursor or self.cursor

    def prepare(self) -> None:
        """What needs no database (``ReceivedStore.received_prepare``), on this thread."""
        self.prepared = self.fed.received.received_prepare(self.adds, self.source, self.rows)

    def __call__(self) -> None:
        if self.prepared is None:
            self.prepare()
        assert self.prepared is not None
        self.fed.received.received_write(
            self.prepared, self.updates, superseded=(self.peer_id, self.superseded),
            cursor=(self.peer_id, *self.cursor) if self.cursor is not None else None)


def _known(fed: Federation, peer: dict[str, Any], ids: list[str],
           memo: RunMemo | None) -> set[str]:
    """Record ids of this page already received (a page repeated after a crash).

    Feed ids only grow, so on a backfill every id is above the largest one received so far
    and the lookup is provably empty: only ids at or below it are looked up. With a *memo*,
    the largest is asked once a run and then follows the pages (a superset of what is
    stored: it can only look up more).
    """
    if memo is None:
        highest = fed.received.received_max_record_id(peer["id"])
    else:
        if memo.stored_before is None:
            memo.highest_id = fed.received.received_max_record_id(peer["id"])
            memo.stored_before = memo.highest_id is not None
        highest = memo.highest_id
        if ids:
            memo.highest_id = max(highest or "", max(ids))
    maybe = [i for i in ids if highest is not None and i <= highest]
    return fed.received.received_known(peer["id"], maybe) if maybe else set()


def apply_page(fed: Federation, peer: dict[str, Any], records: list[Any],
               verdicts: list[str | None], *, quarantine: bool = False,
               checked: list[bool] | None = None,
               existing: dict[str, int] | None = None,
               writer: PageWriter | None = None, memo: RunMemo | None = None,
               cursor: tuple[str, bool] | None = None) -> dict[str, int]:
    """Apply *records* (with their verification *verdicts*) in order; return counts.

    *checked* says, per record, whether its proof was verified cryptographically (False:
    only structurally, the background pass of ``plugin.federation.proofs`` verifies it);
    *existing* maps record ids to stored rows when re-applying held records (a release).
    *cursor* (next cursor, backfilled) is persisted in the page's final write, in the same
    transaction. With a *writer*, that write runs on its thread while the caller goes on;
    without, before this returns. A sync run passes the same *memo* to each of its pages.
    """
    page = _Page(fed, peer, existing, writer, memo)
    if checked is not None:
        page.checked = {r["id"]: c for r, c in zip(records, checked, strict=True)
                        if isinstance(r, dict) and isinstance(r.get("id"), str)}
    allowed = peer.get("categories")
    ids = [r["id"] for r in records if isinstance(r, dict) and isinstance(r.get("id"), str)]
    known = set() if existing else _known(fed, peer, ids, memo)
    hashes = [r for r, v in zip(records, verdicts, strict=True) if v is None
              and r.get("type") == "hash" and r["id"] not in known]
    popular = fed.received.local_media_counts(
        "sha256", [r["hash_value"] for r in hashes if r["hash_type"] == "sha256"])
    # each pair's index key, computed once: for the lookup, the memo and the stored rows
    page.hash_keys = hash_keys((r["hash_type"], r["hash_value"]) for r in hashes)
    lookup = page.hash_keys if memo is None else memo.may_be_stored(page.hash_keys)
    older: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for hash_type, value, category, record_id in (fed.received.received_active_keys(
            peer["id"], lookup) if lookup else ()):
        older[(hash_type, value, category)].append(record_id)
    if memo is not None:
        memo.hash_keys.update(page.hash_keys.values())
    if writer is not None:  # records of earlier pages not committed yet
        for r in hashes:
            key = (r["hash_type"], r["hash_value"], r["category"])
            if pending := writer.uncommitted(key):
                older[key].extend(i for i in pending if i not in older[key])
    superseded: list[str] = []
    this_page: dict[tuple[str, str, str], list[str]] = defaultdict(list)

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
        this_page.pop(key, None)
        this_page[key].append(record["id"])
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
    write = page.take(superseded, cursor)
    if writer is None:
        write()
    else:
        writer.submit(write, this_page)
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

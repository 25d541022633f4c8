"""Three real instances on loopback pair, publish, pull, retract, expire and refuse.

Instances are real HTTP servers (``tests/federation/instances.py``), each with its own SQLite
database, Redis database and key; sync runs through the real client, signatures and feed.
"""

from __future__ import annotations

import gc
import json
import time

import requests

from plugin.federation.changelog import publish_bank_changes
from plugin.federation.http_signatures import sign_request
from plugin.federation.ids import uuid7
from plugin.federation.ingest import expire_received
from plugin.federation.records import sign_record
from plugin.federation.sync import sync_all, sync_peer
from plugin.storage.banks import EntryInput
from plugin.storage.federation_models import ChangeLogRecord
from tests.federation.instances import Instance, pair


def share(inst: Instance, values: list[str], *, bank: str = "shared-ncii",
          category: str = "ncii", visibility: str = "peers", shareable: bool = True) -> dict:
    banks = inst.services.banks
    if banks.bank_find(bank) is None:
        banks.bank_create(bank, category, visibility=visibility, shareable=shareable)
    banks.entries_add(bank, [EntryInput("pdq", v) for v in values])
    return publish_bank_changes(inst.fed)


def received_values(inst: Instance, bank: str = "peer:a.test:ncii") -> list[str]:
    if inst.services.banks.bank_find(bank) is None:
        return []
    return [row["value"] for row in inst.services.banks.entries_export(bank)]


def hexes(start: int, n: int) -> list[str]:
    return [f"{i:064x}" for i in range(start, start + n)]


def test_pairing_needs_both_admins_and_unpairing_stops_the_flow(trio) -> None:
    a, b, _ = trio
    r = a.api("POST", "/api/v1/peers", json={"url": b.base_url})
    assert r.status_code == 201 and r.json()["state"] == "added"
    assert r.json()["keys"][0]["key_id"] == b.fed.identity.key_id
    share(a, hexes(1, 2))
    # Nothing flows before approval: B does not know A yet, A refuses B's key.
    assert b.fed.peers.peer_by_domain("a.test") is None
    a.api("POST", f"/api/v1/peers/{a.peer_id(b)}/approve")
    assert b.fed.peers.peer_by_domain("a.test")["state"] == "awaiting_our_approval"
    assert a.fed.peers.peer_by_domain("b.test")["state"] == "awaiting_their_approval"
    summary = sync_peer(b.fed, b.peer_id(a))
    assert summary["skipped"] == "peer is awaiting_our_approval"
    r = b.api("POST", f"/api/v1/peers/{b.peer_id(a)}/approve")
    assert r.json()["state"] == "active" and r.json()["remote_state"] == "active"
    assert a.fed.peers.peer_by_domain("b.test")["state"] == "active"
    assert sync_peer(b.fed, b.peer_id(a))["records"] == 2
    assert sorted(received_values(b)) == hexes(1, 2)

    r = a.api("DELETE", f"/api/v1/peers/{a.peer_id(b)}")
    assert r.json()["state"] == "removed"
    assert b.fed.peers.peer_by_domain("a.test")["state"] == "removed"
    share(a, hexes(10, 1))
    assert sync_peer(b.fed, b.peer_id(a))["skipped"] == "peer is removed"
    # Even if B still tried, A no longer serves it.
    b.fed.peers.peer_approve(b.peer_id(a))
    b.fed.peers.peer_upsert("a.test", a.base_url, a.fed.peers.peer_list() and
                            b.fed.peers.peer_by_domain("a.test")["keys"], ["consentry/1"],
                            requested=True)
    out = sync_peer(b.fed, b.peer_id(a))
    assert "not_paired" in out["error"]


def test_order_kept_and_cursor_resumes_after_restart(trio) -> None:
    a, b, _ = trio
    pair(a, b)
    share(a, hexes(100, 7))
    summary = sync_peer(b.fed, b.peer_id(a), limit=3)
    assert summary["pages"] == 3 and summary["records"] == 7
    ids = [json.loads(r["record"])["id"] for r in _received_rows(b)]
    assert ids == sorted(ids) and len(set(ids)) == 7
    cursor = b.fed.peers.peer_get(b.peer_id(a))["cursor"]
    assert cursor == ids[-1]

    b.restart()
    share(a, hexes(200, 3))
    summary = sync_peer(b.fed, b.peer_id(a), limit=3)
    assert summary["records"] == 3  # resumed from the stored cursor, not from 0
    assert sorted(received_values(b)) == sorted(hexes(100, 7) + hexes(200, 3))
    assert sync_peer(b.fed, b.peer_id(a))["records"] == 0


def _received_rows(inst: Instance) -> list[dict]:
    from sqlalchemy import select

    from plugin.storage.federation_models import ReceivedRecord

    with inst.services.db.session() as s:
        return [{"record": r.record, "state": r.state, "record_id": r.record_id}
                for r in s.scalars(select(ReceivedRecord).order_by(ReceivedRecord.id))]


def test_retraction_and_expiry_propagate(trio) -> None:
    a, b, c = trio
    pair(a, b)
    pair(a, c)
    share(a, hexes(1, 3))
    sync_peer(b.fed, b.peer_id(a))
    a.services.banks.entry_remove("shared-ncii", "pdq", hexes(2, 1)[0], by="admin",
                                  reason="false positive after appeal")
    counts = publish_bank_changes(a.fed)
    assert counts == {"published": 0, "retracted": 1, "refreshed": 0}
    assert sync_peer(b.fed, b.peer_id(a))["counts"] == {"applied": 1}
    assert sorted(received_values(b)) == [hexes(1, 1)[0], hexes(3, 1)[0]]
    audit = b.services.audit.audit_list(action="federation.withdraw")
    assert audit and "false positive after appeal" in audit[0]["detail"]["reason"]
    # C backfills later: the retracted record is not served at all, only its retraction.
    sync_peer(c.fed, c.peer_id(a))
    assert sorted(received_values(c)) == [hexes(1, 1)[0], hexes(3, 1)[0]]
    states = {r["state"] for r in _received_rows(c)}
    assert states == {"active", "orphan"}

    a.configure(federation_record_ttl_s=2)
    share(a, hexes(50, 1))
    sync_peer(b.fed, b.peer_id(a))
    assert hexes(50, 1)[0] in received_values(b)
    time.sleep(2.2)
    assert expire_received(b.fed) == 1
    assert hexes(50, 1)[0] not in received_values(b)
    # The feed omits expired records: a late backfill never sees it.
    c.fed.peers.peer_checkpoint_set(c.peer_id(a), "0", backfilled=False)
    sync_peer(c.fed, c.peer_id(a))
    assert hexes(50, 1)[0] not in received_values(c)


def _inject(inst: Instance, record: dict) -> None:
    with inst.services.db.session() as s:
        s.add(ChangeLogRecord(id=record["id"], type="hash", category="ncii",
                              visibility="peers", signed=json.dumps(record)))


def _hash_record(issuer: str, value: str) -> dict:
    return {"type": "hash", "id": uuid7(), "issuer": issuer, "issued": "2025-06-15T15:00:00Z",
            "expires": None, "hash_type": "pdq", "hash_value": value, "category": "ncii",
            "labels": [], "recommended_action": "reject", "opinion": "true_positive",
            "human_reviewed": True, "published": "2025-06-15T14:00:00Z"}


def test_forged_and_foreign_records_are_refused(trio) -> None:
    a, b, c = trio
    pair(a, b)
    share(a, hexes(1, 1))
    # Forged: claims a.test but is signed by C's key (under a.test's key URL).
    ident = c.fed.identity
    forged = sign_record(_hash_record("a.test", hexes(2, 1)[0]), ident.private_key,
                         ident.key_id, "a.test")
    _inject(a, forged)
    # Foreign: a genuine record of c.test relayed in a.test's feed.
    foreign = sign_record(_hash_record("c.test", hexes(3, 1)[0]), ident.private_key,
                          ident.key_id, "c.test")
    _inject(a, foreign)
    share(a, hexes(4, 1))
    summary = sync_peer(b.fed, b.peer_id(a))
    assert summary["counts"]["active"] == 2
    assert summary["counts"]["refused_unknown_key"] == 1
    assert summary["counts"]["refused_foreign_issuer"] == 1
    assert sorted(received_values(b)) == [hexes(1, 1)[0], hexes(4, 1)[0]]
    refused = b.services.audit.audit_list(action="federation.refused_records")
    assert refused[0]["detail"] == {"refused_unknown_key": 1, "refused_foreign_issuer": 1}


def _signed_get(signer: Instance, target: Instance, **kw) -> tuple[str, dict]:
    url = f"{target.base_url}/federation/v1/changes?since=0&limit=10"
    headers = sign_request("GET", url, {}, None, signer.fed.identity.private_key,
                           signer.fed.key_url, **kw)
    return url, headers


def test_replayed_tampered_stale_and_unpaired_requests_are_refused(trio) -> None:
    a, b, c = trio
    pair(a, b)
    url, headers = _signed_get(b, a)
    first = requests.get(url, headers=headers, timeout=10)
    assert first.status_code == 200
    assert "Signature" in first.headers  # responses are signed too
    replay = requests.get(url, headers=headers, timeout=10)
    assert replay.status_code == 401 and replay.json()["error"] == "replayed_signature"

    url, headers = _signed_get(b, a, created=int(time.time()) - 600)
    stale = requests.get(url, headers=headers, timeout=10)
    assert stale.status_code == 401 and stale.json()["error"] == "stale_signature"

    nudge = f"{a.base_url}/federation/v1/nudge"
    body = json.dumps({"latest": uuid7()}).encode()
    headers = sign_request("POST", nudge, {}, body, b.fed.identity.private_key, b.fed.key_url)
    tampered = body.replace(b'"latest"', b'"latest" ')
    r = requests.post(nudge, data=tampered, timeout=10,
                      headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_digest"

    url, headers = _signed_get(c, a)  # C never paired with A: its key is unknown
    r = requests.get(url, headers=headers, timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "unknown_key"
    a.api("POST", "/api/v1/peers", json={"url": c.base_url})  # known, not approved
    c.fed.peers.peer_upsert("a.test", a.base_url, [], ["consentry/1"])
    url, headers = _signed_get(c, a)
    r = requests.get(url, headers=headers, timeout=10)
    assert r.status_code == 403 and r.json()["error"] == "not_paired"

    url, headers = _signed_get(b, a)
    r = requests.get(url.replace("limit=10", "limit=11"), headers=headers, timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "invalid_signature"


def test_flood_is_quarantined(trio) -> None:
    a, b, _ = trio
    pair(a, b)
    share(a, hexes(1, 3))
    sync_peer(b.fed, b.peer_id(a))  # backfill done
    b.configure(federation_flood_per_hour=5)
    share(a, hexes(100, 10))
    summary = sync_peer(b.fed, b.peer_id(a))
    assert summary["counts"] == {"quarantined": 10}
    peer = b.fed.peers.peer_get(b.peer_id(a))
    assert peer["quarantined"] and "flood" in peer["quarantine_reason"]
    assert sorted(received_values(b)) == hexes(1, 3)
    assert b.services.audit.audit_list(action="federation.quarantine_peer")


def test_dead_and_rate_limited_peers_do_not_block_the_others(trio) -> None:
    a, b, c = trio
    pair(b, a)
    pair(b, c)
    share(a, hexes(1, 2))
    share(c, hexes(1, 2), bank="c-spam", category="spam")
    a.stop()
    results = {r["peer"]: r for r in sync_all(b.fed)}
    assert "peer_unavailable" in results["a.test"]["error"]
    assert results["c.test"]["records"] == 2
    assert gc.isenabled()  # a run pauses the cyclic collector; failed or not, it is back on
    assert sorted(received_values(b, "peer:c.test:spam")) == hexes(1, 2)
    assert b.fed.peers.peer_get(b.peer_id(a))["retry_at"] is not None

    c.configure(federation_rate_per_min=1)
    share(c, hexes(5, 1), bank="c-spam", category="spam")
    for _ in range(3):  # at most one request per minute window passes; 3 straddle <= 1 edge
        out = sync_peer(b.fed, b.peer_id(c), limit=1)
        if "retry_after_s" in out:
            break
        b.fed.peers.peer_sync_result(b.peer_id(c), error=None)
    assert 1 <= out["retry_after_s"] <= 60  # from the peer's Retry-After header
    assert "rate_limited" in b.fed.peers.peer_get(b.peer_id(c))["last_error"]
    assert sync_peer(b.fed, b.peer_id(c))["skipped"].startswith("retry after")

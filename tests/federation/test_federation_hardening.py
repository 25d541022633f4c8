"""Deferred proof checks, the quarantine release replay, and pinned peer connections.

Real instances on loopback (``tests/federation/instances.py``): real HTTP, signatures, SQLite,
Redis, and a real process pool for the proof checks. DNS is the one thing simulated (a
monkeypatched ``socket.getaddrinfo``), because a hostile resolver is the external party.
"""

from __future__ import annotations

import json
import socket

import pytest
from sqlalchemy import select

from plugin.federation.changelog import publish_bank_changes
from plugin.federation.client import PeerClient, check_peer_url
from plugin.federation.errors import InvalidRequest
from plugin.federation.proofs import QUARANTINE_REASON, schedule_proof_pass, verify_pending
from plugin.federation.records import sign_record
from plugin.federation.sync import DEFER_MIN, sync_peer
from plugin.storage.banks import EntryInput
from plugin.storage.federation_models import ReceivedRecord
from tests.federation.instances import Instance, pair
from tests.federation.test_federation_e2e import (
    _hash_record,
    _inject,
    hexes,
    received_values,
    share,
)


def _rows(inst: Instance) -> dict[str, ReceivedRecord]:
    with inst.services.db.session() as s:
        rows = list(s.scalars(select(ReceivedRecord)))
        s.expunge_all()
    return {json.loads(r.record).get("hash_value") or r.record_id: r for r in rows}


# -- deferred proofs --------------------------------------------------------------------
def test_backfill_defers_proofs_and_the_background_pass_refuses_a_bad_one(trio) -> None:
    a, b, c = trio
    b.configure(federation_verify_workers=2)  # the real process pool checks the pages
    pair(a, b)
    good = hexes(1, DEFER_MIN + 20)
    share(a, good)
    # Well formed, signed under a key id A publishes, but the content was changed after
    # signing: only the Ed25519 verification can tell.
    ident = a.fed.identity
    tampered = sign_record(_hash_record("a.test", hexes(9000, 1)[0]), ident.private_key,
                           ident.key_id, "a.test")
    tampered["hash_value"] = hexes(9001, 1)[0]
    _inject(a, tampered)
    forged = sign_record(_hash_record("a.test", hexes(9002, 1)[0]), c.fed.identity.private_key,
                         c.fed.identity.key_id, "a.test")  # a key id A does not publish
    _inject(a, forged)

    summary = sync_peer(b.fed, b.peer_id(a))
    assert summary["pages"] == 1 and summary["unchecked"] == len(good) + 1
    assert summary["counts"] == {"active": len(good) + 1, "refused_unknown_key": 1}
    assert hexes(9001, 1)[0] in received_values(b)  # applied on the response signature...
    assert b.fed.received.received_count_unchecked() == len(good) + 1

    # The pass is a job on the sync queue, queued once however many runs ask for it.
    from plugin.queueing import queue

    assert schedule_proof_pass(b.fed) and not schedule_proof_pass(b.fed)
    (job,) = queue("sync", b.services.redis).jobs
    assert job.func_name == "workers.sync.verify_proofs_job"

    out = verify_pending(b.fed)  # ...and refused once its proof is verified
    assert (out["verified"], out["refused"]) == (len(good), 1)
    assert b.fed.received.received_count_unchecked() == 0
    row = _rows(b)[hexes(9001, 1)[0]]
    assert (row.state, row.proof_error) == ("refused", "invalid_signature")
    assert sorted(received_values(b)) == sorted(good)  # its entry withdrawn, the rest kept
    withdrawn = b.services.audit.audit_list(action="federation.withdraw")
    assert withdrawn and "proof does not verify" in withdrawn[0]["detail"]["reason"]
    peer = b.fed.peers.peer_get(b.peer_id(a))
    assert peer["quarantined"] and peer["quarantine_reason"] == QUARANTINE_REASON
    assert b.services.audit.audit_list(action="federation.quarantine_peer")
    assert verify_pending(b.fed)["verified"] == 0  # nothing left: each proof checked once


def test_small_pages_are_verified_in_full_on_receipt(trio) -> None:
    a, b, _ = trio
    pair(a, b)
    share(a, hexes(1, 3))
    ident = a.fed.identity
    tampered = sign_record(_hash_record("a.test", hexes(50, 1)[0]), ident.private_key,
                           ident.key_id, "a.test")
    tampered["hash_value"] = hexes(51, 1)[0]
    _inject(a, tampered)
    summary = sync_peer(b.fed, b.peer_id(a))
    assert summary["unchecked"] == 0
    assert summary["counts"] == {"active": 3, "refused_invalid_signature": 1}
    assert b.fed.received.received_count_unchecked() == 0


# -- release replay ---------------------------------------------------------------------
def _false_positive(a: Instance, value: str) -> None:
    ident = a.fed.identity
    record = dict(_hash_record("a.test", value), opinion="false_positive")
    _inject(a, sign_record(record, ident.private_key, ident.key_id, "a.test"))


def _local_scans(inst: Instance, sha256: str, n: int) -> None:
    from plugin.storage.models import MediaScan

    with inst.services.db.session() as s:
        for i in range(n):
            s.add(MediaScan(media_id=f"pop-{i}", status_id=f"st-{i}", media_type="image",
                            sha256=sha256))


def test_release_replays_held_records_in_feed_order_through_the_rules(trio) -> None:
    a, b, _ = trio
    pair(a, b)
    share(a, hexes(1, 2))
    sync_peer(b.fed, b.peer_id(a))  # backfill done: from now on floods are counted
    b.configure(federation_flood_per_hour=3, federation_popular_limit=2)
    held = hexes(100, 3)
    share(a, held)
    share(a, hexes(200, 1), bank="a-spam", category="spam")
    _false_positive(a, held[1])  # later in the feed than the record it negates
    popular = "ab" * 32
    a.services.banks.entries_add("shared-ncii", [EntryInput("sha256", popular)])
    publish_bank_changes(a.fed)
    _local_scans(b, popular, 3)

    summary = sync_peer(b.fed, b.peer_id(a))
    assert summary["counts"] == {"quarantined": 6}
    assert b.fed.peers.peer_get(b.peer_id(a))["quarantined"]
    assert sorted(received_values(b)) == hexes(1, 2)  # held records feed no bank

    b.fed.peers.peer_update(b.peer_id(a), categories=["ncii"])
    r = b.api("POST", f"/api/v1/peers/{b.peer_id(a)}/release")
    assert r.status_code == 200, r.text
    body = r.json()
    assert not body["quarantined"]
    # held[1]'s negative opinion comes after it in the feed: replayed in that order, the
    # entry is added and then withdrawn; the spam record is filtered (category not
    # accepted); the popular sha256 stays quarantined.
    assert body["replayed"] == {"active": 3, "negative": 1, "filtered": 1, "quarantined": 1}
    assert sorted(received_values(b)) == sorted([*hexes(1, 2), held[0], held[2]])
    assert popular not in received_values(b)
    states = {k: r.state for k, r in _rows(b).items()}
    assert states[held[1]] == "negative" and states[hexes(200, 1)[0]] == "filtered"
    assert states[popular] == "quarantined"
    audit = b.services.audit.audit_list(action="federation.release_peer")
    assert audit and audit[0]["detail"]["replayed"] == body["replayed"]
    assert audit[0]["detail"]["reason"].startswith("flood")
    # A second release has nothing left to replay but the popular hash, still held.
    again = b.api("POST", f"/api/v1/peers/{b.peer_id(a)}/release").json()
    assert again["replayed"] == {"quarantined": 1}


# -- DNS rebinding ----------------------------------------------------------------------
@pytest.fixture
def hostile_dns(monkeypatch: pytest.MonkeyPatch):
    """``peer.example`` answers the scripted addresses in turn (the last one repeats)."""
    real = socket.getaddrinfo
    answers: list[str] = []
    asked: list[str] = []

    def fake(host, port, *args, **kwargs):
        if host != "peer.example":
            return real(host, port, *args, **kwargs)
        address = answers[min(len(asked), len(answers) - 1)]
        asked.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers, asked


def test_rebinding_to_loopback_is_refused_at_connect_time(trio, hostile_dns) -> None:
    _, b, _ = trio
    answers, asked = hostile_dns
    b.configure(allow_insecure_peers=False)
    listener = socket.socket()  # what the rebinding aims at: a service on our loopback
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.3)
    port = listener.getsockname()[1]
    try:
        answers[:] = ["93.184.216.34", "127.0.0.1"]  # public for the check, then loopback
        peer = {"domain": "peer.example", "base_url": f"https://peer.example:{port}",
                "keys": []}
        with pytest.raises(InvalidRequest, match=r"non-public address \(127\.0\.0\.1\)"):
            PeerClient(b.fed, timeout_s=2).changes(peer, "0")
        assert asked == ["93.184.216.34", "127.0.0.1"]  # the URL check, then the connect
        with pytest.raises(TimeoutError):
            listener.accept()  # no connection ever reached the loopback service
    finally:
        listener.close()


def test_pinned_connection_dials_the_checked_address(trio, hostile_dns) -> None:
    a, b, _ = trio
    answers, asked = hostile_dns
    # Test mode allows loopback peers; the name is resolved once per connection and the
    # connection goes to that address (our real instance A), not to a second lookup's.
    answers[:] = ["127.0.0.1", "10.0.0.9"]
    client = PeerClient(b.fed, timeout_s=5)
    response = client.http.get(f"http://peer.example:{a.port}/.well-known/consentry",
                               timeout=5)
    assert response.status_code == 200 and response.json()["domain"] == "a.test"
    assert asked == ["127.0.0.1"]
    # A private, non-loopback answer is refused at connect time even in test mode.
    asked.clear()
    answers[:] = ["10.0.0.9"]
    client.http.close()
    with pytest.raises(InvalidRequest, match=r"10\.0\.0\.9"):
        client.http.get(f"http://peer.example:{a.port}/.well-known/consentry", timeout=5)
    # Without test mode, the same loopback answer is refused too.
    b.configure(allow_insecure_peers=False)
    answers[:] = ["127.0.0.1"]
    with pytest.raises(InvalidRequest):
        check_peer_url(f"https://peer.example:{a.port}", allow_insecure=False)
    with pytest.raises(InvalidRequest):
        PeerClient(b.fed).http.get(f"https://peer.example:{a.port}/", timeout=5)


def test_a_backfill_page_with_a_duplicate_member_is_refused_whole(trio) -> None:
    """The pooled path parses fast in process and strictly on the pool: both must agree."""
    from plugin.storage.federation_models import ChangeLogRecord

    a, b, _ = trio
    b.configure(federation_verify_workers=2)
    pair(a, b)
    share(a, hexes(1, DEFER_MIN))
    ident = a.fed.identity
    record = sign_record(_hash_record("a.test", hexes(7000, 1)[0]), ident.private_key,
                         ident.key_id, "a.test")
    text = json.dumps(record)
    duplicated = text.replace('"category": "ncii"', '"category": "spam", "category": "ncii"')
    assert duplicated != text
    with a.services.db.session() as s:
        s.add(ChangeLogRecord(id=record["id"], type="hash", category="ncii",
                              visibility="peers", signed=duplicated))
    summary = sync_peer(b.fed, b.peer_id(a))
    assert "malformed feed page" in summary["error"] and "duplicate" in summary["error"]
    assert summary["pages"] == 0 and received_values(b) == []
    assert b.fed.peers.peer_get(b.peer_id(a))["cursor"] == "0"

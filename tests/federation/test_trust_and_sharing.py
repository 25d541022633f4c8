"""Trust decisions on peer matches, what our feed may share, and nudges — on real instances."""

from __future__ import annotations

from datetime import UTC, datetime

from plugin.federation.changelog import changes_page, publish_bank_changes
from plugin.federation.sync import sync_peer
from plugin.federation.trust import disposition, explain
from plugin.matching import BankMatcher
from plugin.queueing import queue
from plugin.storage.banks import EntryInput
from tests.federation.instances import Instance, pair
from tests.federation.test_federation_e2e import hexes, received_values, share
from workers.sync import nudge_peers, run_peer_sync

VALUE = hexes(7, 1)[0]


def _matches(inst: Instance) -> list[dict]:
    return BankMatcher(inst.services.banks).match_value("pdq", VALUE)


def test_quorum_caps_allowlist_and_standing(trio) -> None:
    a, b, c = trio
    pair(b, a)
    pair(b, c)
    share(a, [VALUE])
    share(c, [VALUE])
    sync_peer(b.fed, b.peer_id(a))
    sync_peer(b.fed, b.peer_id(c))
    assert {m["bank"] for m in _matches(b)} == {"peer:a.test:ncii", "peer:c.test:ncii"}
    assert disposition(_matches(b), b.services) == "review"  # nobody trusted yet

    b.fed.peers.peer_update(b.peer_id(a), trust_level="trusted", auto_act=True,
                            max_action="suspend")
    assert disposition(_matches(b), b.services) == "review"  # quorum is 2
    b.fed.peers.peer_update(b.peer_id(c), trust_level="trusted", auto_act=True,
                            max_action="report")
    decision = explain(_matches(b), b.services)
    assert decision.verdict == "act" and decision.max_action == "report"
    assert decision.peers == ["a.test", "c.test"]

    b.fed.peers.peer_update(b.peer_id(c), categories=["spam"])
    assert disposition(_matches(b), b.services) == "review"  # C may not send ncii
    b.configure(federation_quorum=1)
    assert disposition(_matches(b), b.services) == "act"
    b.fed.peers.peer_quarantine(b.peer_id(a), "test")
    assert disposition(_matches(b), b.services) == "ignore"
    b.fed.peers.peer_quarantine(b.peer_id(a), None)

    b.services.banks.bank_create("allowlist", "other")
    b.services.banks.entries_add("allowlist", [EntryInput("pdq", VALUE)])
    assert disposition(_matches(b), b.services) == "ignore"  # no peer overrides it


def test_popular_hash_is_quarantined_at_match_time(trio) -> None:
    a, b, _ = trio
    pair(b, a)
    share(a, [VALUE])
    sync_peer(b.fed, b.peer_id(a))
    b.fed.peers.peer_update(b.peer_id(a), trust_level="trusted", auto_act=True)
    b.configure(federation_quorum=1, federation_popular_limit=2)
    assert disposition(_matches(b), b.services, media_id="m1") == "act"
    assert disposition(_matches(b), b.services, media_id="m2") == "act"
    assert disposition(_matches(b), b.services, media_id="m3") == "ignore"
    assert received_values(b) == []  # entry tombstoned, not deleted
    audit = b.services.audit.audit_list(action="federation.withdraw")
    assert "matched 3 local pictures" in audit[0]["detail"]["reason"]


def _served(inst: Instance, read: str) -> list[str]:
    peer = {"read_visibility": read}
    page = changes_page(inst.fed, peer, "0", 1000)
    import json

    return [json.loads(t)["hash_value"] for t in page["records_json"]]


def test_feed_shares_only_what_it_may(trio) -> None:
    a, _, _ = trio
    values = hexes(1, 6)
    share(a, values[0:1], bank="csam-peers", category="csam", visibility="peers")
    share(a, values[1:2], bank="csam-vetted", category="csam", visibility="vetted")
    share(a, values[2:3], bank="licensed", category="ncii", shareable=False)
    share(a, values[3:4], bank="private", category="ncii", visibility="private")
    share(a, values[4:5], bank="open", category="spam")
    share(a, values[5:6], bank="vetted-ncii", category="ncii", visibility="vetted")
    assert _served(a, "peers") == [values[4]]
    assert sorted(_served(a, "vetted")) == [values[1], values[4], values[5]]
    counts = publish_bank_changes(a.fed)
    assert counts["published"] == 0  # idempotent: its own cursor


def test_nudge_queues_one_pull_and_the_job_applies_it(trio) -> None:
    a, b, _ = trio
    pair(a, b)
    share(a, hexes(1, 2))
    q = queue("sync", b.services.redis)
    assert nudge_peers(a.fed) == {"nudged": 1, "failed": []}
    assert nudge_peers(a.fed)["nudged"] == 1
    assert q.count == 1  # debounced: one queued pull for two nudges
    summary = run_peer_sync(b.fed, b.peer_id(a))
    assert summary["records"] == 2
    assert sorted(received_values(b)) == hexes(1, 2)
    share(a, hexes(3, 1))
    nudge_peers(a.fed)
    assert q.count == 2  # the queued flag was cleared by the finished run
    started = datetime.now(UTC)
    run_peer_sync(b.fed, b.peer_id(a))
    assert hexes(3, 1)[0] in received_values(b)
    assert (datetime.now(UTC) - started).total_seconds() < 5


def test_enforcement_follows_the_trust_decision(trio) -> None:
    """What a peer's word may cause, end to end through planning: review until the quorum is
    met, then the policy's actions capped at the peer's most severe allowed action."""
    from plugin.enforcement import plan_actions
    from plugin.federation.trust import apply_trust
    from plugin.mastodon.payloads import StatusRef
    from plugin.policy import parse_policy

    a, b, _ = trio
    pair(b, a)
    share(a, [VALUE])
    sync_peer(b.fed, b.peer_id(a))
    status = StatusRef(status_id="77", url=None, account_id="5", account_acct="eve@x.test",
                       visibility="public", via="status")
    scan = {"media_id": "m1", "matches": _matches(b), "labels": []}
    policy = parse_policy('[category.ncii]\nactions = ["report", "suspend"]\n')

    def kinds() -> list[str]:
        judged = apply_trust([scan], b.services)
        return [p.kind for p in plan_actions(status, judged, policy)]

    assert kinds() == ["review"]  # an untrusted peer's word goes to a moderator
    b.configure(federation_quorum=1)
    b.fed.peers.peer_update(b.peer_id(a), trust_level="trusted", auto_act=True,
                            max_action="report")
    assert kinds() == ["report"]  # trusted, but capped: no suspension on its word
    b.fed.peers.peer_update(b.peer_id(a), max_action="suspend")
    assert kinds() == ["report", "suspend"]
    b.services.banks.bank_create("allowlist", "other")
    b.services.banks.entries_add("allowlist", [EntryInput("pdq", VALUE)])
    scan["matches"] = _matches(b)
    assert kinds() == []  # our allowlist wins over every peer

"""Trust policy: what a match on peer-sourced hashes may cause.

``disposition(matches, services, media_id=...)`` takes the ``BankMatcher`` matches of one
picture and answers ``"act"``, ``"review"`` or ``"ignore"`` (``explain`` also says why and
the most severe action allowed). Enforcement calls it before planning actions and drops peer
matches on ``ignore``, turns them into a review item on ``review``, and acts (capped at
``max_action``) on ``act``. Matches on our own banks are not judged here: they ``act``.

Rules, strongest first:

1. **Allowlist.** A match in the local allowlist bank (``federation_allowlist_bank``) means
   we vouched for this picture: peer matches are ignored. No peer can override it.
2. **Standing of the source.** Matches from peers that are not active, are quarantined, whose
   entry is quarantined or withdrawn, or whose category the peer may not send, are ignored.
3. **Popular-hash quarantine.** A peer entry that matched more than
   ``federation_popular_limit`` distinct local pictures within an hour is quarantined (entry
   tombstoned, audited; its received record's state becomes ``popular``, which a peer's
   release from quarantine does not replay): a poisoned list aimed at popular images must
   not cause mass action.
4. **Quorum.** Act only when at least ``federation_quorum`` distinct *trusted* peers with
   ``auto_act`` assert a match; otherwise review. ``max_action`` is the least severe cap
   among the asserting peers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from plugin.policy import SEVERITY
from plugin.services import Services

from .changelog import LOCAL_TO_WIRE
from .context import federation, redis_key

__all__ = ["Decision", "apply_trust", "disposition", "explain"]

Verdict = Literal["act", "review", "ignore"]
POPULAR_WINDOW_S = 3600


@dataclass
class Decision:
    verdict: Verdict
    max_action: str | None = None
    peers: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def _peer_domain(bank: str) -> str | None:
    if not bank.startswith("peer:"):
        return None
    return bank.split(":")[1]


def explain(matches: list[dict[str, Any]], services: Services, *,
            media_id: str | None = None) -> Decision:
    fed = federation(services)
    settings = services.settings
    local = [m for m in matches if _peer_domain(m["bank"]) is None]
    if any(m["bank"] == settings.federation_allowlist_bank for m in local):
        return Decision("ignore", reasons=["picture is on the local allowlist"])
    if local:
        return Decision("act", reasons=["matches a local bank"])
    peer_matches = [m for m in matches if _peer_domain(m["bank"])]
    if not peer_matches:
        return Decision("ignore", reasons=["no match"])
    reasons: list[str] = []
    asserting: dict[str, dict[str, Any]] = {}
    records = fed.received.received_for_entries(
        [(m["bank"], m["type"], m["value"]) for m in peer_matches])
    live = {(r["bank"], r["hash_type"], r["hash_value"]) for r in records}
    for match in peer_matches:
        domain = _peer_domain(match["bank"])
        peer = fed.peers.peer_by_domain(domain or "")
        if peer is None or peer["state"] != "active" or peer["quarantined"]:
            reasons.append(f"{domain}: not an active, unquarantined peer")
            continue
        if (match["bank"], match["type"], match["value"]) not in live:
            reasons.append(f"{domain}: no live record behind the entry")
            continue
        allowed = peer["categories"]
        wire = LOCAL_TO_WIRE.get(match["category"], match["category"])
        if allowed is not None and match["category"] not in allowed and wire not in allowed:
            reasons.append(f"{domain}: category {match['category']} not accepted")
            continue
        if media_id is not None and _popular(fed, peer, match, media_id):
            reasons.append(f"{domain}: entry matched too many local pictures; quarantined")
            continue
        asserting[domain or ""] = peer
    if not asserting:
        return Decision("ignore", reasons=reasons)
    voters = [p for p in asserting.values() if p["trust_level"] == "trusted" and p["auto_act"]]
    caps = [p["max_action"] for p in asserting.values()]
    cap = min(caps, key=lambda a: SEVERITY.get(a, -1))
    if len(voters) >= max(1, settings.federation_quorum):
        reasons.append(f"{len(voters)} trusted peers assert it "
                       f"(quorum {settings.federation_quorum})")
        return Decision("act", cap, sorted(asserting), reasons)
    reasons.append(f"{len(voters)} trusted auto-acting peers of {settings.federation_quorum} "
                   "needed")
    return Decision("review", "review", sorted(asserting), reasons)


def disposition(matches: list[dict[str, Any]], services: Services, *,
                media_id: str | None = None) -> Verdict:
    """``"act"``, ``"review"`` or ``"ignore"`` for one picture's matches (see module doc)."""
    return explain(matches, services, media_id=media_id).verdict


def _popular(fed: Any, peer: dict[str, Any], match: dict[str, Any], media_id: str) -> bool:
    from .ingest import withdraw_entry

    redis = fed.services.redis
    key = redis_key("popular", match["entry_id"])
    pipe = redis.pipeline()
    pipe.sadd(key, media_id)
    pipe.ttl(key)
    pipe.scard(key)
    _, ttl, count = pipe.execute()
    if ttl < 0:  # a new window starts with the first picture (EXPIRE NX needs Redis 7)
        redis.expire(key, POPULAR_WINDOW_S)
    if count <= fed.settings.federation_popular_limit:
        return False
    for row in fed.received.received_active_for(peer["id"], [(match["type"], match["value"])]):
        if row["bank"] == match["bank"]:
            fed.received.received_set_state([row["id"]], "popular")
    withdraw_entry(fed, peer, match["bank"], match["type"], match["value"],
                   reason=f"quarantined: matched {count} local pictures within an hour")
    return True


def apply_trust(scans: list[dict[str, Any]], services: Services) -> list[dict[str, Any]]:
    """The scans with their matches judged: what enforcement may do with each.

    An allowlisted picture acts on nothing. Peer-sourced matches are dropped (``ignore``), marked
    ``trust: "review"`` (enforcement opens a review item instead of acting), or kept with
    ``max_action`` (enforcement caps the policy's actions at it). Matches on our own banks
    pass unchanged. The decision's reasons travel with each judged match as evidence.
    """
    allowlist = services.settings.federation_allowlist_bank
    judged = []
    for scan in scans:
        matches = scan.get("matches") or []
        if any(m["bank"] == allowlist for m in matches):
            # A picture we vouched for (a moderator dismissed it and allowlisted it): no
            # bank acts on it, ours or a peer's.
            judged.append({**scan, "matches": [], "allowlisted": True})
            continue
        if not any(_peer_domain(m["bank"]) for m in matches):
            judged.append(scan)
            continue
        decision = explain(matches, services, media_id=scan.get("media_id"))
        kept = []
        for match in matches:
            if match["bank"] == allowlist:
                continue
            if _peer_domain(match["bank"]) is None:
                kept.append(match)
            elif decision.verdict == "review":
                kept.append({**match, "trust": "review", "trust_reasons": decision.reasons})
            elif decision.verdict == "act":
                kept.append({**match, "max_action": decision.max_action,
                             "trust_reasons": decision.reasons})
        judged.append({**scan, "matches": kept})
    return judged

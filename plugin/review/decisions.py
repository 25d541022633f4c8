"""Human decisions on review items: confirm, dismiss, escalate.

* **confirm** adds the picture's hashes to the bank the moderator chose, records a
  true-positive opinion (shared with peers when the bank's visibility allows), keeps the
  media refused on the gate, plans the policy's actions for the bank's category and queues
  them on the ``act`` queue (action keys are the enforcement's, so an automated report made
  earlier is not filed twice), and seals evidence of CSAM under legal hold.
* **dismiss** records a false-positive opinion on every matched hash, allowlists the
  picture's own hashes when asked, and serves the media again.
* **escalate** keeps the item in the queue, flagged for a senior moderator.

Each writes the item's history, an audit record and a statement of reasons.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

from redis import Redis

from plugin import redis_keys
from plugin.enforcement import plan_actions
from plugin.errors import BadRequest
from plugin.mastodon.payloads import StatusRef
from plugin.policy import Policy
from plugin.queueing import enqueue_unique
from plugin.review import legal_hold
from plugin.review.gate_index import GateIndex
from plugin.review.statements import build_statement, record_statement
from plugin.settings import Settings
from plugin.storage.actions import ActionStore, AuditStore
from plugin.storage.banks import BankStore, EntryInput
from plugin.storage.models import utcnow
from plugin.storage.review_store import ReviewStore

DECISIONS = ("confirm", "dismiss", "escalate")


@dataclass
class ReviewDeps:
    store: ReviewStore
    banks: BankStore
    actions: ActionStore
    audit: AuditStore
    redis: Redis
    policy: Policy
    settings: Settings

    @classmethod
    def from_services(cls, svc: Any) -> ReviewDeps:
        return cls(store=ReviewStore(svc.db), banks=svc.banks, actions=svc.actions,
                   audit=svc.audit, redis=svc.redis, policy=svc.policy, settings=svc.settings)


def confirm(deps: ReviewDeps, item_id: int, *, moderator: str, bank: str,
            note: str | None = None) -> dict[str, Any]:
    target = deps.banks.bank_get(bank)
    item = deps.store.item_get(item_id)
    entries = [EntryInput(t, v, note=f"confirmed by {moderator} (review {item_id})",
                          source=f"review:{item_id}")
               for t, v in (("pdq", item["pdq"]), ("sha256", item["sha256"])) if v]
    if not entries:
        raise BadRequest("this item has no hashes to bank (the media was never scanned)")
    decided = deps.store.item_decide(item_id, moderator=moderator, decision="confirm",
                                     bank=bank, note=note, detail={})
    added = deps.banks.entries_add(bank, entries)
    share = target["visibility"] != "private" and target["shareable"]
    for entry in entries:
        deps.store.opinion_add(hash_type=entry.hash_type, value=entry.value, bank=bank,
                               category=target["category"], opinion="true_positive",
                               human_reviewed=True, share=share, moderator=moderator,
                               item_id=item_id)
    GateIndex(deps.redis).refuse(item["media_id"], item["media_url"], target["category"])
    action_ids = _plan_policy_actions(deps, decided, target, moderator)
    if target["category"] in legal_hold.HELD_CATEGORIES:
        legal_hold.seal(deps.store, deps.settings, item_id, target["category"],
                        _evidence(deps, item_id))
    account_action = next((a["kind"] for a in map(deps.actions.action_get, action_ids)
                           if a["kind"] in ("suspend", "silence")), None)
    _statement(deps, decided, "confirm", target["category"], restrictive=True,
               facts=f"A moderator confirmed the media as {target['category']} and added it "
                     f"to bank {bank}." + (f" Note: {note}" if note else ""),
               account_action=account_action)
    deps.audit.audit_append(actor=f"moderator:{moderator}", action="review.confirm",
                            subject=f"review:{item_id}", outcome="done",
                            evidence={"media_id": item["media_id"], "bank": bank},
                            detail={"entries_added": added, "actions": action_ids,
                                    "shared": share}, key=f"review:{item_id}:decision")
    return {"item": item_id, "state": decided["state"], "entries_added": added,
            "actions": action_ids, "shared": share}


def dismiss(deps: ReviewDeps, item_id: int, *, moderator: str, allowlist: bool = False,
            note: str | None = None) -> dict[str, Any]:
    decided = deps.store.item_decide(item_id, moderator=moderator, decision="dismiss",
                                     bank=None, note=note, detail={"allowlist": allowlist})
    for match in (f["match"] for f in decided["findings"] if "match" in f):
        deps.store.opinion_add(hash_type=match.get("type", "pdq"), value=match.get("value", ""),
                               bank=match["bank"], category=match["category"],
                               opinion="false_positive", human_reviewed=True,
                               share=bool(match.get("peer")), moderator=moderator,
                               item_id=item_id)
    if allowlist:
        reason = note or f"dismissed review {item_id}"
        for hash_type in ("sha256", "pdq"):
            if decided[hash_type]:
                deps.store.allowlist_add(hash_type, decided[hash_type], moderator=moderator,
                                         reason=reason)
        # The allowlist bank is what the matcher sees: no bank, local or a peer's, acts on
        # this picture again (plugin.federation.trust.apply_trust).
        name = deps.settings.federation_allowlist_bank
        deps.banks.bank_ensure(name, "other")
        deps.banks.entries_add(name, [EntryInput(t, decided[t], reason, source="review")
                                      for t in ("sha256", "pdq") if decided[t]])
    GateIndex(deps.redis).allow(decided["media_id"], decided["media_url"])
    _statement(deps, decided, "dismiss", decided["category"], restrictive=False,
               facts="A moderator found the automated detection to be a false positive; "
                     "the media is served again.")
    deps.audit.audit_append(actor=f"moderator:{moderator}", action="review.dismiss",
                            subject=f"review:{item_id}", outcome="done",
                            evidence={"media_id": decided["media_id"]},
                            detail={"allowlist": allowlist}, key=f"review:{item_id}:decision")
    return {"item": item_id, "state": decided["state"], "allowlisted": allowlist}


def escalate(deps: ReviewDeps, item_id: int, *, moderator: str,
             note: str | None = None) -> dict[str, Any]:
    decided = deps.store.item_decide(item_id, moderator=moderator, decision="escalate",
                                     bank=None, note=note, detail={})
    deps.audit.audit_append(actor=f"moderator:{moderator}", action="review.escalate",
                            subject=f"review:{item_id}", outcome="done",
                            detail={"note": note})
    return {"item": item_id, "state": decided["state"]}


def _plan_policy_actions(deps: ReviewDeps, item: dict[str, Any], bank: dict[str, Any],
                         moderator: str) -> list[int]:
    if not item["status_id"] or not item["account_id"]:
        return []
    status = StatusRef(status_id=item["status_id"], url=item["status_url"],
                       account_id=item["account_id"], account_acct=item["account_acct"],
                       visibility=None, via="review")
    scan = {"media_id": item["media_id"], "labels": [],
            "matches": [{"bank": bank["name"], "category": bank["category"], "type": "review",
                         "distance": 0}]}
    comment = (f"Consentry: a moderator ({moderator}) confirmed this media as "
               f"{bank['category']} (review {item['id']}).")
    # The rule for the bank's category, less "review" (this is the review).
    rule = deps.policy.for_category(bank["category"])
    rule = dataclasses.replace(rule, actions=tuple(a for a in rule.actions if a != "review"))
    ids = []
    for planned in plan_actions(status, [scan], Policy(defaults=rule)):
        params = dict(planned.params)
        for field in ("comment", "text"):
            if field in params:
                params[field] = comment
        ids.append(deps.actions.action_plan(planned.key, planned.kind, params,
                                            {**planned.evidence, "review_item": item["id"],
                                             "moderator": moderator})[0])
    if ids:
        plan_key = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:32]
        enqueue_unique(deps.redis, "act", "workers.act.execute_actions", ids,
                       job_id=redis_keys.action_job_id(plan_key))
    return ids


def _evidence(deps: ReviewDeps, item_id: int) -> dict[str, Any]:
    item = deps.store.item_get(item_id)
    evidence: dict[str, Any] = {"item": item, "decisions": deps.store.decisions_for(item_id),
                                "scan": deps.store.scan_for_media(item["media_id"] or ""),
                                "sealed_at": utcnow()}
    if deps.settings.legal_hold_media and item["media_url"]:
        from plugin.review.previews import fetch_original

        evidence["media_base64"] = fetch_original(deps.settings, item["media_url"])
    return evidence


def _statement(deps: ReviewDeps, item: dict[str, Any], decision: str, category: str, *,
               restrictive: bool, facts: str, account_action: str | None = None) -> None:
    source = "SOURCE_ARTICLE_16" if item["source"] == "takedown" else "SOURCE_VOLUNTARY"
    record_statement(deps.store, build_statement(
        decision=decision, category=category, facts=facts,
        puid=f"media:{item['media_id']}", automated_detection=item["source"] == "scan",
        automated_decision="no", restrictive=restrictive, content_date=item["created_at"],
        application_date=utcnow(), source_type=source, account_action=account_action),
        item_id=item["id"], subject=f"media:{item['media_id']}", restrictive=restrictive)

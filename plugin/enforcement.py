"""Enforcement: from a status's scan results to idempotent actions, and carrying them out.

``plan_actions`` is pure: policy + scans in, planned actions out. Each planned action has a
key naming its target (``report:status:<id>``, ``account:<id>:suspend``,
``domain:<d>:reject_media``), so however often a status is re-delivered or re-scanned, each
action exists once. ``perform_action`` executes one stored action against the instance and
writes the audit record in the same breath; a transient failure propagates (the job retries)
and a permanent one is recorded as ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from plugin.errors import ConsentryError, TransientError
from plugin.mastodon.client import InstanceClient
from plugin.mastodon.payloads import StatusRef
from plugin.policy import SEVERITY, Policy, Rule
from plugin.storage.actions import ActionStore, AuditStore

CATEGORY_RANK = {"legal": 3, "violation": 2, "spam": 1, "other": 0}


@dataclass(frozen=True)
class PlannedAction:
    key: str
    kind: str
    params: dict[str, Any]
    evidence: dict[str, Any]


def triggered_rules(scans: list[dict[str, Any]], policy: Policy) -> list[tuple[Rule, dict]]:
    """Each (rule, evidence) that fires for these scans."""
    fired = []
    for scan in scans:
        for match in scan.get("matches") or []:
            fired.append((_judged_rule(policy.for_category(match["category"]), match),
                          {"media_id": scan["media_id"], "match": match}))
        for label in scan.get("labels") or []:
            rule = policy.for_label(label["label"])
            if rule is not None and label["score"] >= rule.min_score:
                fired.append((rule, {"media_id": scan["media_id"], "label": label}))
    return fired


def _judged_rule(rule: Rule, match: dict[str, Any]) -> Rule:
    """Apply the trust policy's word on a peer-sourced match (``federation.trust``)."""
    if match.get("trust") == "review":
        return replace(rule, actions=("review",))
    cap = match.get("max_action")
    if cap is not None:
        allowed = tuple(a for a in rule.actions if SEVERITY[a] <= SEVERITY.get(cap, -1))
        return replace(rule, actions=allowed or ("review",))
    return rule


def plan_actions(status: StatusRef, scans: list[dict[str, Any]],
                 policy: Policy) -> list[PlannedAction]:
    fired = triggered_rules(scans, policy)
    # Findings whose rule says "review" wait for a moderator: only the review item is planned
    # now; confirming it plans the rule's other actions (plugin.review.decisions).
    review = _review_actions(status, fired)
    fired = [(rule, found) for rule, found in fired if "review" not in rule.actions]
    if not fired:
        return review
    actions = sorted({a for rule, _ in fired for a in rule.actions}, key=SEVERITY.__getitem__)
    category = max((rule.report_category for rule, _ in fired), key=CATEGORY_RANK.__getitem__)
    evidence = {"status_id": status.status_id, "status_url": status.url,
                "account": status.account_acct, "findings": [e for _, e in fired]}
    comment = _comment(fired)
    planned = review
    for kind in actions:
        if kind == "report":
            if status.report_id is None and status.account_id:
                planned.append(PlannedAction(
                    f"report:status:{status.status_id}", "report",
                    {"account_id": status.account_id, "status_ids": [status.status_id],
                     "category": category, "comment": comment,
                     "forward": any(r.forward for r, _ in fired)}, evidence))
        elif kind == "reject_media":
            if status.account_domain:
                planned.append(PlannedAction(
                    f"domain:{status.account_domain}:reject_media", "reject_media",
                    {"domain": status.account_domain, "comment": comment}, evidence))
        elif status.account_id:
            planned.append(PlannedAction(
                f"account:{status.account_id}:{kind}", kind,
                {"account_id": status.account_id, "text": comment,
                 "report_key": f"report:status:{status.status_id}",
                 "report_id": status.report_id}, evidence))
    return planned


def _review_actions(status: StatusRef, fired: list[tuple[Rule, dict]]) -> list[PlannedAction]:
    """One ``review:<media_id>`` action per media whose findings ask for a human."""
    findings: dict[str, list[dict]] = {}
    for rule, found in fired:
        if "review" in rule.actions:
            findings.setdefault(found["media_id"], []).append(found)
    return [PlannedAction(f"review:{media_id}", "review",
                          {"media_id": media_id, "status_id": status.status_id,
                           "findings": found},
                          {"status_id": status.status_id, "status_url": status.url,
                           "account": status.account_acct, "findings": found})
            for media_id, found in findings.items()]


def _comment(fired: list[tuple[Rule, dict]]) -> str:
    parts = []
    for _, found in fired:
        if "match" in found:
            m = found["match"]
            parts.append(f"{m['type']} match in bank {m['bank']} ({m['category']}), "
                         f"distance {m['distance']}")
        else:
            label = found["label"]
            parts.append(f"classifier {label.get('model', '?')}: {label['label']} "
                         f"{label['score']:.2f}")
    return "Consentry automatic detection: " + "; ".join(dict.fromkeys(parts))


def perform_action(action_id: int, client: InstanceClient, actions: ActionStore,
                   audit: AuditStore) -> dict[str, Any]:
    action = actions.action_get(action_id)
    if action["state"] in ("done", "failed"):
        return action
    actions.action_attempt(action_id)
    params = action["params"]
    try:
        # A retry may follow an attempt that the instance carried out but that died before
        # we recorded it (a killed worker): look for its effect before acting again.
        result = (_already_done(action, client) if action["attempts"] >= 1 else None) \
            or _execute(action["key"], action["kind"], params, client, actions)
    except TransientError:
        raise
    except ConsentryError as exc:
        actions.action_finish(action_id, "failed", error=exc.message)
        audit.audit_append(actor="consentry", action=action["kind"], subject=action["key"],
                           outcome="failed", evidence=action["evidence"],
                           detail={"error": exc.message}, key=f"action:{action_id}")
        return actions.action_get(action_id)
    actions.action_finish(action_id, "done", result=result)
    audit.audit_append(actor="consentry", action=action["kind"], subject=action["key"],
                       outcome="done", evidence=action["evidence"], detail=result,
                       key=f"action:{action_id}")
    if action["kind"] in RESTRICTIONS and not result.get("recovered"):
        _statement_of_reasons(action, actions)
    return actions.action_get(action_id)


#: Automated actions that restrict someone: each gets a DSA statement of reasons.
RESTRICTIONS = ("sensitive", "silence", "suspend", "reject_media")


def _statement_of_reasons(action: dict[str, Any], actions: ActionStore) -> None:
    """Record the DSA-shaped statement of an automated restriction (docs/compliance.md)."""
    from plugin.review.statements import build_statement, record_statement  # no cycle
    from plugin.storage.models import utcnow
    from plugin.storage.review_store import ReviewStore

    findings = action["evidence"].get("findings") or []
    category = next((f["match"]["category"] for f in findings if "match" in f), "other")
    subject = action["params"].get("account_id") or action["params"].get("domain")
    now = utcnow()
    record_statement(ReviewStore(actions.db), build_statement(
        decision=action["kind"], category=category,
        facts=action["params"].get("text") or action["params"].get("comment") or "",
        puid=action["key"], automated_detection=True, automated_decision="fully",
        restrictive=True, content_date=None, application_date=now,
        account_action=action["kind"]), item_id=None, subject=subject, restrictive=True)


def report_marker(key: str) -> str:
    """Carried in the comment of every report we file, so a retry can recognise its own."""
    return f"[{key}]"


def _already_done(action: dict[str, Any], client: InstanceClient) -> dict[str, Any] | None:
    params = action["params"]
    if action["kind"] == "report":
        found = client.find_report(params["account_id"], report_marker(action["key"]))
        return {"report_id": found, "recovered": True} if found else None
    if action["kind"] in ("sensitive", "silence", "suspend"):
        if client.account_state(params["account_id"]).get(action["kind"]):
            return {"account_id": params["account_id"], "recovered": True}
    return None


def _execute(key: str, kind: str, params: dict[str, Any], client: InstanceClient,
             actions: ActionStore) -> dict[str, Any]:
    if kind == "report":
        comment = f"{report_marker(key)} {params['comment']}"
        report_id = client.report(params["account_id"], params["status_ids"], comment,
                                  params["category"], params["forward"])
        return {"report_id": report_id}
    if kind == "reject_media":
        return {"domain_block_id": client.reject_media(params["domain"], params["comment"])}
    if kind == "review":  # opens a queue item, no instance call; imported late (no cycle)
        from plugin.review.items import open_review_item

        return open_review_item(actions.db, params)
    report_id = params.get("report_id")
    if report_id is None and params.get("report_key"):
        report = actions.action_by_key(params["report_key"])
        if report and report["state"] == "pending":
            # Another status's job may reach this shared account action first: it must not
            # overtake the report it cites. Retry once that report has landed (or failed).
            raise TransientError(f"{kind} waits for {params['report_key']}")
        if report and report["state"] == "done":
            report_id = report["result"]["report_id"]
    client.account_action(params["account_id"], kind, report_id=report_id, text=params["text"])
    return {"account_id": params["account_id"], "report_id": report_id}

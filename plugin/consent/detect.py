"""Consent enforcement for pictures that arrive without a post: Misskey's detect-images.

Misskey asks before it stores an upload, and sends 299×299 PNG re-renders of the frames: no
poster, no post, no C2PA manifest (the re-render drops it). What we do know is the derivative
match (owner, protected picture, evidence) and the classifier labels, so the decision of
``plugin.consent.decision`` runs with an unknown poster (never ``own``) and the labels as the
only AI signal (``CONSENTRY_CONSENT_AI_LABELS``):

* ``ncii`` or ``nonconsensual_ai_edit`` — the picture is *flagged* in the answer (``Porn``
  1.0, as for a bank match: the one lever the contract gives, Misskey marks it sensitive);
  a review item opens (source ``misskey``, keyed by the frame's SHA-256, so a frame asked
  about twice is one item) with the evidence and the frame's hashes, never the frame itself;
  a statement of reasons records the automated restriction; the owner is told, as for a post
  (a direct message at home, or through their home instance's Consentry).
* ``repost`` (or an AI edit the owner allowed) — recorded in the audit log, nothing more.

Every finding, acted on or not, is written to the audit log (``consent.derivative_seen``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from plugin.consent.decision import Verdict, ai_signals
from plugin.consent.stage import ACTED, derivative_match, judge
from plugin.errors import ConfigError
from plugin.federation.wellknown import instance_domain
from plugin.queueing import enqueue_unique
from plugin.review.items import describe_findings
from plugin.review.statements import build_statement, record_statement
from plugin.services import Services
from plugin.storage.models import utcnow
from plugin.storage.review_store import ReviewStore

__all__ = ["enforce_detect"]

SOURCE = "misskey"


def _verdict(services: Services, scan: dict[str, Any], matches: list[dict[str, Any]]
             ) -> tuple[Verdict, dict[str, Any]]:
    labels = scan.get("labels") or []
    reasons = ai_signals(provenance=None, poster_acct=None, ai_accounts=(), labels=labels,
                         ai_labels=services.settings.consent_ai_labels.split(","))
    return judge(services, matches, poster=None, reasons=reasons, labels=labels)


def enforce_detect(services: Services, scan: dict[str, Any]) -> Verdict | None:
    """Decide, record and act on the derivative findings of one detect-images frame.

    Returns the gravest verdict (``None`` when the frame derives from no protected picture);
    the caller flags the frame when ``verdict.category`` is in ``ACTED``.
    """
    matches = (scan.get("derivatives") or {}).get("matches") or []
    if not matches:
        return None
    verdict, best = _verdict(services, scan, matches)
    services.audit.audit_append(
        actor="misskey-detect", action="consent.derivative_seen", subject=best["owner"],
        outcome="acted" if verdict.category in ACTED else "recorded",
        evidence={"protected_id": best["id"], "score": best["score"],
                  "evidence": best["evidence"], "sha256": scan.get("sha256"),
                  "labels": scan.get("labels") or []},
        detail={"verdict": verdict.to_dict()})
    if verdict.category in ACTED:
        item_id = _open_review_item(services, scan, verdict, best)
        _notify_owner(services, scan, verdict, best, item_id)
    return verdict


def _open_review_item(services: Services, scan: dict[str, Any], verdict: Verdict,
                      best: dict[str, Any]) -> int:
    findings = [{"media_id": None, "match": derivative_match(verdict, best), "via": SOURCE}]
    store = ReviewStore(services.db)
    key = f"{SOURCE}:{scan['sha256']}"
    item_id, created = store.item_open(
        key, source=SOURCE, category=verdict.category, sha256=scan.get("sha256"),
        pdq=scan.get("pdq"), findings=findings, labels=scan.get("labels") or [])
    if created:
        now = utcnow()
        facts = (describe_findings(findings) + f". Owner {best['owner']} "
                 f"({verdict.consent}); seen in a Misskey upload check, flagged sensitive.")
        record_statement(store, build_statement(
            decision="flag_sensitive_pending_review", category=verdict.category, facts=facts,
            puid=key, automated_detection=True, automated_decision="fully", restrictive=True,
            content_date=now, application_date=now), item_id=item_id, subject=key,
            restrictive=True)
    return item_id


def _notify_owner(services: Services, scan: dict[str, Any], verdict: Verdict,
                  best: dict[str, Any], item_id: int) -> None:
    try:
        here = instance_domain(services.settings)
    except ConfigError:
        here = "this server"
    finding = {"owner": verdict.owner, "category": verdict.category, "status_url": None,
               "poster": None, "seen_on": f"{here} (an upload checked by Misskey)",
               "protected_sha256": best["sha256"], "score": best["score"],
               "review_item": item_id}
    digest = hashlib.sha256(verdict.owner.encode()).hexdigest()[:16]
    enqueue_unique(services.redis, "act", "workers.consent.notify_owner_job", finding,
                   job_id=f"consent-notify-{SOURCE}-{scan['sha256'][:32]}-{digest}")

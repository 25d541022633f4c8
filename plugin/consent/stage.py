"""The consent stage of the scan pipeline (``ScanContext.protected``).

Three seams in ``plugin.scanning``, each one call:

* ``scan(data, image)`` — inside ``scan_bytes``: the ``ProtectedMatcher`` on the decoded
  image; when something matches, the C2PA provenance of the bytes (read only then: it costs
  more than the match and matters only for derivatives);
* ``after_scan(status, media, result)`` — once a media is scanned: store the derivative
  matches on its scan row, and queue the registration of the picture when its poster is a
  local person whose choice protects it (new posts are protected within seconds);
* ``enforce(status, results)`` — before ``plan_actions``: decide each derivative
  (``plugin.consent.decision``); a ``nonconsensual_ai_edit`` or ``ncii`` verdict becomes a
  ``derivative`` match of that category (so the policy's rule for the category acts: by
  default a report with the evidence) plus a review item, and the owner is notified.
  Reposts and allowed edits are recorded on the scan row, nothing more.
"""

from __future__ import annotations

import hashlib
from typing import Any

from PIL import Image

from plugin.consent.actors import actor_for_acct, is_local
from plugin.consent.c2pa import read_provenance
from plugin.consent.choices import publish_now
from plugin.consent.decision import Verdict, ai_signals, decide, gravest
from plugin.consent.registration import consent_store, register_media, should_protect
from plugin.enforcement import PlannedAction
from plugin.errors import ConfigError
from plugin.mastodon.payloads import MediaRef, StatusRef
from plugin.protection.matcher import ProtectedMatcher
from plugin.queueing import enqueue_unique
from plugin.services import Services
from plugin.storage.protected_store import ProtectedStore

ACTED = ("nonconsensual_ai_edit", "ncii")


def consent_of(services: Services, owner: str) -> str:
    """What the owner said: a local person's effective choice, a peer's record, or unknown."""
    try:
        local = is_local(services.settings, owner)
    except ConfigError:
        local = False
    if local:
        row = consent_store(services).consent_get(owner)
        if row is not None and row["left_at"]:
            return "unknown"
        return consent_store(services).consent_effective(owner)[0]
    remote = consent_store(services).remote_consent_get(owner)
    return remote["ai_edit"] if remote and remote["state"] == "active" else "unknown"


def judge(services: Services, matches: list[dict[str, Any]], *, poster: str | None,
          reasons: list[str], labels: list[dict[str, Any]]) -> tuple[Verdict, dict[str, Any]]:
    """The gravest verdict over a picture's derivative matches, and the match it is for."""
    pairs = [(decide(owner=m["owner"], poster=poster, consent=consent_of(services, m["owner"]),
                     ai_reasons=reasons, labels=labels), m) for m in matches]
    verdict = gravest(v for v, _ in pairs)
    assert verdict is not None
    return verdict, next(m for v, m in pairs if v is verdict)


def derivative_match(verdict: Verdict, best: dict[str, Any]) -> dict[str, Any]:
    """An acted-on derivative as a bank-style match (so the policy's category rule acts)."""
    return {"bank": "protected", "category": verdict.category, "type": "derivative",
            "value": best["sha256"], "distance": 0, "entry_id": None,
            "protected_id": best["id"], "owner": best["owner"], "score": best["score"],
            "evidence": best["evidence"], "consent": verdict.consent,
            "reasons": list(verdict.reasons)}


class DerivativeStage:
    def __init__(self, services: Services, matcher: ProtectedMatcher | None = None) -> None:
        self.services = services
        self.store = ProtectedStore(services.db)
        self.matcher = matcher or ProtectedMatcher(self.store)
        # The bytes of the picture just scanned: registering it needs no second fetch.
        self._last: tuple[str, bytes] | None = None

    def scan(self, data: bytes, image: Image.Image) -> dict[str, Any]:
        matches = self.matcher.match(image)
        self._last = (hashlib.sha256(data).hexdigest(), data)
        return {"matches": matches, "provenance": read_provenance(data) if matches else None}

    def provenance(self, data: bytes) -> dict[str, Any] | None:
        """C2PA provenance of a file (a clip's, when its frames matched)."""
        return read_provenance(data)

    def after_scan(self, status: StatusRef, media: MediaRef, result: dict[str, Any]) -> None:
        if result.get("derivatives") is not None:
            self.store.scan_derivatives_set(media.media_id, result["derivatives"])
        if result.get("video") is not None:
            return  # moving pictures are matched frame by frame, never registered as stills
        if status.account_domain is not None or not media.fetch_urls:
            return
        try:
            actor = actor_for_acct(self.services.settings, status.account_acct)
        except ConfigError:
            return
        if not actor or not should_protect(self.services, actor):
            return
        derivatives = result.get("derivatives") or {}
        if any(m["owner"] != actor for m in derivatives.get("matches") or []):
            return  # a copy of someone else's protected picture is not the poster's to protect
        last, self._last = self._last, None
        if last is not None and last[0] == result.get("sha256"):
            row, created = register_media(
                self.services, actor=actor, status_id=status.status_id, media_id=media.media_id,
                url=media.fetch_urls[0], status_visibility=status.visibility, data=last[1])
            if created and row["visibility"] == "public":
                publish_now(self.services, actor)
        else:
            enqueue_unique(self.services.redis, "scan", "workers.consent.register_media_job",
                actor, status.status_id, media.media_id, media.fetch_urls[0],
                status.visibility, job_id=f"consent-register-{media.media_id}")

    def enforce(self, status: StatusRef, results: list[dict[str, Any]]
                ) -> tuple[list[dict[str, Any]], list[PlannedAction]]:
        found = self.store.scan_derivatives_get([r["media_id"] for r in results if r])
        out, extra = [], []
        for scan in results:
            derivatives = found.get(scan.get("media_id", "")) if scan else None
            if not derivatives or not derivatives.get("matches"):
                out.append(scan)
                continue
            verdict, best = self._verdict(status, scan, derivatives)
            self.store.scan_derivatives_set(scan["media_id"],
                                            {**derivatives, "verdict": verdict.to_dict()})
            if verdict.category not in ACTED:
                out.append(scan)
                continue
            match = derivative_match(verdict, best)
            out.append({**scan, "matches": [*(scan.get("matches") or []), match]})
            finding = {"media_id": scan["media_id"], "match": match}
            extra.append(PlannedAction(
                f"review:{scan['media_id']}", "review",
                {"media_id": scan["media_id"], "status_id": status.status_id,
                 "findings": [finding]},
                {"status_id": status.status_id, "status_url": status.url,
                 "account": status.account_acct, "findings": [finding]}))
            self._notify(status, scan, verdict, best)
        return out, extra

    def _verdict(self, status: StatusRef, scan: dict[str, Any], derivatives: dict[str, Any]
                 ) -> tuple[Verdict, dict[str, Any]]:
        settings = self.services.settings
        try:
            poster = actor_for_acct(settings, status.account_acct)
        except ConfigError:
            poster = None
        labels = scan.get("labels") or []
        reasons = ai_signals(provenance=derivatives.get("provenance"),
                             poster_acct=status.account_acct,
                             ai_accounts=settings.consent_ai_accounts.split(","),
                             labels=labels, ai_labels=settings.consent_ai_labels.split(","),
                             application=status.application,
                             ai_apps=settings.consent_ai_apps.split(","))
        return judge(self.services, derivatives["matches"], poster=poster, reasons=reasons,
                     labels=labels)

    def _notify(self, status: StatusRef, scan: dict[str, Any], verdict: Verdict,
                match: dict[str, Any]) -> None:
        finding = {"owner": verdict.owner, "category": verdict.category,
                   "status_url": status.url, "poster": status.account_acct,
                   "protected_sha256": match["sha256"], "score": match["score"]}
        digest = hashlib.sha256(verdict.owner.encode()).hexdigest()[:16]
        enqueue_unique(self.services.redis, "act", "workers.consent.notify_owner_job", finding,
                       job_id=f"consent-notify-{scan['media_id']}-{digest}")

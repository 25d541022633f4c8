"""The enforcement decision for one derivative match: pure, and the heart of the policy.

Inputs: who owns the protected picture and what they said, who posted the new picture, the
AI evidence on it, and the classifier labels. Outcomes (``Verdict.category``):

* ``ncii`` — a derivative that the classifiers call nude or sexual: possible non-consensual
  intimate imagery *whatever the consent setting* (an owner who allows AI edits did not
  consent to this), highest severity;
* ``nonconsensual_ai_edit`` — AI-edited (C2PA AI source type, a known AI-edit account, a
  policy label) while the owner said ``not_allowed`` or ``ask`` (asking is impossible after
  the fact, §8.3);
* ``repost`` — an unedited copy, a crop, a quote, or an AI edit the owner allowed: recorded,
  no action by default;
* ``own`` — the owner posting their own picture: nothing at all.

The strictest statement wins: a picture matching several protected pictures takes the
gravest verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SEXUAL_LABEL_PREFIXES = ("nudity", "sexual", "nsfw", "porn", "explicit")
RANK = {"own": 0, "repost": 1, "nonconsensual_ai_edit": 2, "ncii": 3}
STRICTNESS = {"allowed": 0, "unknown": 0, "ask": 1, "not_allowed": 2}


@dataclass(frozen=True)
class Verdict:
    category: str
    owner: str
    consent: str
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "owner": self.owner, "consent": self.consent,
                "reasons": list(self.reasons)}


def ai_signals(*, provenance: dict[str, Any] | None, poster_acct: str | None,
               ai_accounts: Iterable[str], labels: Iterable[dict[str, Any]],
               ai_labels: Iterable[str], application: str | None = None,
               ai_apps: Iterable[str] = ()) -> list[str]:
    """Every reason to believe the picture was made or edited by AI."""
    reasons = []
    apps = {a.strip().lower() for a in ai_apps if a.strip()}
    if application and application.strip().lower() in apps:
        reasons.append(f"application:{application}")
    if provenance and provenance.get("ai"):
        reasons.append("c2pa:" + ",".join(provenance.get("digital_source_types") or []))
    accounts = {a.strip().lstrip("@").lower() for a in ai_accounts if a.strip()}
    if poster_acct and poster_acct.lstrip("@").lower() in accounts:
        reasons.append(f"account:{poster_acct}")
    wanted = {name.strip() for name in ai_labels if name.strip()}
    reasons += [f"label:{lb['label']}" for lb in labels if lb.get("label") in wanted]
    return reasons


def is_sexual(labels: Iterable[dict[str, Any]]) -> bool:
    return any(str(lb.get("label", "")).split(".")[0] in SEXUAL_LABEL_PREFIXES
               for lb in labels)


def decide(*, owner: str, poster: str | None, consent: str, ai_reasons: list[str],
           labels: list[dict[str, Any]]) -> Verdict:
    if poster is not None and poster == owner:
        return Verdict("own", owner, consent)
    if is_sexual(labels):
        return Verdict("ncii", owner, consent,
                       tuple(["sexual labels on a derivative", *ai_reasons]))
    if ai_reasons and consent in ("not_allowed", "ask"):
        return Verdict("nonconsensual_ai_edit", owner, consent, tuple(ai_reasons))
    return Verdict("repost", owner, consent, tuple(ai_reasons))


def gravest(verdicts: Iterable[Verdict]) -> Verdict | None:
    return max(verdicts, key=lambda v: RANK[v.category], default=None)


def strictest(choices: Iterable[str]) -> str:
    return max(choices, key=lambda c: STRICTNESS.get(c, 0), default="unknown")

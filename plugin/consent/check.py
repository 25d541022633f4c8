"""``consent/check``: may this picture be AI-edited? The answer for tools and bots.

Looks the picture up among the protected pictures this instance knows (its own people's and
those peers told it about) — by derivative matching for an image, by PDQ distance for a
``pdq=`` query — and answers with the owner's choice, the strictest one when several
protected pictures match. ``unknown`` means no protected picture matched: it is not a "yes".
For pictures protected as followers-only or direct (``local``) the decision is given but the
owner and record are withheld: whoever holds the file learns only "do not edit".
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from plugin.consent.actors import is_local
from plugin.consent.decision import STRICTNESS
from plugin.consent.records import latest_record, vocabularies
from plugin.consent.registration import consent_store
from plugin.consent.stage import consent_of
from plugin.errors import BadRequest
from plugin.services import Services
from plugin.storage.protected_store import ProtectedStore


def pdq_matches(services: Services, pdq: str) -> list[dict[str, Any]]:
    try:
        query = np.frombuffer(bytes.fromhex(pdq), dtype=np.uint8)
    except ValueError:
        raise BadRequest("pdq must be 64 hex digits") from None
    if query.size != 32:
        raise BadRequest("pdq must be 64 hex digits")
    out = []
    for pic in ProtectedStore(services.db).protected_find(limit=1_000_000):
        if not pic["pdq"]:
            continue
        other = np.frombuffer(bytes.fromhex(pic["pdq"]), dtype=np.uint8)
        distance = int(np.unpackbits(query ^ other).sum())
        if distance <= services.settings.pdq_max_distance:
            out.append({**pic, "score": round(1 - distance / 256, 4), "distance": distance})
    return sorted(out, key=lambda p: p["distance"])


def answer(services: Services, matches: list[dict[str, Any]]) -> dict[str, Any]:
    if not matches:
        return {"decision": "unknown", "owner": None, "protected": None,
                "consent_record": None, "vocabularies": {}}
    # The strictest statement wins; among equals the oldest registration, the original.
    ranked = sorted(((consent_of(services, m["owner"]), m) for m in matches),
                    key=lambda cm: (-STRICTNESS.get(cm[0], 0), cm[1]["id"]))
    choice, match = ranked[0]
    decision = choice if choice in ("allowed", "not_allowed", "ask") else "unknown"
    shared = match.get("visibility") == "public"
    out: dict[str, Any] = {
        "decision": decision,
        "owner": match["owner"] if shared else None,
        "protected": {"id": match["id"], "sha256": match["sha256"] if shared else None,
                      "pdq": match.get("pdq") if shared else None,
                      "score": match.get("score")},
        "consent_record": _record(services, match["owner"]) if shared else None,
        "vocabularies": vocabularies(decision),
        "matches": len(matches),
    }
    return out


def _record(services: Services, owner: str) -> dict[str, Any] | None:
    try:
        if is_local(services.settings, owner):
            return latest_record(services, owner)
    except Exception:  # no federation domain: no signed record to give
        return None
    remote = consent_store(services).remote_consent_get(owner)
    if remote is None or remote["state"] != "active":
        return None
    return json.loads(remote["record"])

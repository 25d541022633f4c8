"""NCII takedown intake: a person reports an intimate picture of themselves.

They upload it (hashed here, then the bytes are discarded — nothing is written to disk or the
database, as StopNCII does on the device) or give the hashes themselves. The hashes join the
``ncii`` bank, so every future upload matching them is caught by the scan pipeline; every
copy already on the instance — identical (SHA-256) or derivative (PDQ within the configured
distance, any of the 8 rotations/mirrors) — is queued for review with the 48-hour clock of
the US TAKE IT DOWN Act. Copies are not refused on the gate before a moderator confirms:
an unverified request must not let anyone make any picture disappear.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from plugin.errors import BadRequest
from plugin.hashing.image_hashes import hash_image
from plugin.hashing.types import hash_type
from plugin.media.decode import decode_image
from plugin.review.decisions import ReviewDeps
from plugin.storage.banks import EntryInput
from plugin.storage.models import utcnow

DEADLINE = timedelta(hours=48)
NCII_BANK = "ncii"
ACCEPTED_TYPES = ("pdq", "sha256")


def hashes_of_upload(data: bytes, max_pixels: int) -> list[tuple[str, str]]:
    """PDQ (all 8 dihedral forms) and SHA-256 of an upload; the caller drops the bytes."""
    decoded = decode_image(data, max_pixels=max_pixels)
    hashes = hash_image(data, decoded.image)
    return [("sha256", hashes.sha256)] + [("pdq", h) for h in dict.fromkeys(
        [hashes.pdq, *hashes.pdq_dihedral])]


def parse_hashes(items: list[Any]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        if not isinstance(item, dict) or item.get("hash_type") not in ACCEPTED_TYPES:
            raise BadRequest(f"each hash is {{\"hash_type\": one of {ACCEPTED_TYPES}, "
                             "\"value\": hex}")
        kind = hash_type(item["hash_type"])
        out.append((kind.name, kind.canonical(str(item.get("value", "")))))
    return out


def submit_takedown(deps: ReviewDeps, hashes: list[tuple[str, str]], *, contact: str | None,
                    description: str | None, via: str) -> dict[str, Any]:
    if not hashes:
        raise BadRequest("give a picture or at least one hash")
    now = utcnow()
    deps.banks.bank_ensure(NCII_BANK, "ncii")
    deps.banks.entries_add(NCII_BANK, [EntryInput(t, v, note="takedown request",
                                                  source="takedown") for t, v in hashes])
    takedown_id = deps.store.takedown_create(
        due_at=now + DEADLINE, contact=(contact or None) and contact[:512],
        description=(description or None) and description[:5000],
        hashes=[{"hash_type": t, "value": v} for t, v in hashes], via=via)
    copies = find_copies(deps, hashes)
    for copy in copies:
        scan = deps.store.scan_for_media(copy["media_id"]) or {}
        deps.store.item_open(
            f"takedown:{copy['media_id']}", source="takedown", category="ncii",
            media_id=copy["media_id"], status_id=scan.get("status_id"),
            status_url=scan.get("status_url"), account_id=scan.get("account_id"),
            account_acct=scan.get("account_acct"), media_url=scan.get("url"),
            sha256=scan.get("sha256"), pdq=scan.get("pdq"), labels=scan.get("labels") or [],
            findings=[{"media_id": copy["media_id"], "match": {
                "bank": NCII_BANK, "category": "ncii", "type": copy["type"],
                "value": copy["value"], "distance": copy["distance"],
                "takedown": takedown_id}}],
            takedown_id=takedown_id, due_at=now + DEADLINE)
    deps.store.takedown_found(takedown_id, len(copies))
    deps.audit.audit_append(actor="public", action="takedown.received",
                            subject=f"takedown:{takedown_id}", outcome="done",
                            detail={"hashes": len(hashes), "copies": len(copies), "via": via})
    return {"id": takedown_id, "due_at": (now + DEADLINE).isoformat(), "copies": len(copies)}


def find_copies(deps: ReviewDeps, hashes: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Every scanned media identical to or within PDQ distance of the reported picture."""
    sha = {v for t, v in hashes if t == "sha256"}
    pdqs = [int(v, 16) for t, v in hashes if t == "pdq"]
    limit = deps.settings.pdq_max_distance
    found = []
    for scan in deps.store.scans_with_hashes(sha):
        if scan["identical"]:
            found.append({"media_id": scan["media_id"], "type": "sha256",
                          "value": scan["sha256"], "distance": 0})
            continue
        if scan["pdq"] and pdqs:
            value = int(scan["pdq"], 16)
            distance = min((value ^ p).bit_count() for p in pdqs)
            if distance <= limit:
                found.append({"media_id": scan["media_id"], "type": "pdq",
                              "value": scan["pdq"], "distance": distance})
    return found

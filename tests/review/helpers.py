"""Seeding the review queue the way production does: webhook → scan worker → review action."""

from __future__ import annotations

import io

from PIL import Image

from plugin.hashing.image_hashes import pdq_of
from plugin.storage.banks import EntryInput
from tests.conftest import corpus_photo, sign
from tests.test_pipeline import recompressed, webhook_body
from workers.main import run_worker


def seed_banks(stack, photos: tuple[int, ...]) -> None:
    banks = stack.services.banks
    banks.bank_create("seed-ncii", "ncii")
    banks.bank_create("confirmed-ncii", "ncii", visibility="peers")
    banks.entries_add("seed-ncii", [
        EntryInput("pdq", pdq_of(Image.open(corpus_photo(n)).convert("RGB"))[0][0])
        for n in photos])


def post_photo(stack, n: int, media_id: str) -> dict:
    """alice posts a recompressed copy of corpus photo ``n``; the pipeline scans it."""
    name = f"repost-{n}.jpg"
    (stack.media.root / name).write_bytes(recompressed(corpus_photo(n)))
    status = stack.mastodon.client("alice").status_post(f"picture {n}")
    body = webhook_body(status, [(media_id, stack.media.url(name))])
    client = stack.app.test_client()
    response = client.post("/webhooks/mastodon", data=body,
                           headers={"X-Hub-Signature": sign(body)})
    assert response.status_code == 202, response.json
    run_worker(["scan", "act"], burst=True)
    return status


LOCAL_OWNER = "https://a.test/users/alice"
REMOTE_OWNER = "https://b.example/users/carol"


def seed_derivative_items(stack) -> dict:
    """Two derivative items as consent enforcement opens them, on real fingerprints.

    alice's post (corpus photo 30) is protected here; carol's picture (photo 40) is protected
    on b.example, which shared its fingerprint only. An edited copy of each (cropped, a
    quarter painted over) is posted and scanned; the real ``ProtectedMatcher`` finds the
    original, and the review item carries its match as ``plugin.consent.stage`` records it.
    """
    from plugin.protection.matcher import ProtectedMatcher
    from plugin.protection.register import register_bytes
    from plugin.review.items import open_review_item
    from plugin.storage.protected_store import ProtectedStore
    from tests.protection.images import edited, original
    from tests.review.test_domain import scanned

    svc = stack.services
    protected = ProtectedStore(svc.db)
    max_pixels = svc.settings.media_max_pixels
    scanned(stack, "9201", original(30))
    local, _ = register_bytes(protected, original(30), owner=LOCAL_OWNER,
                              source="status:s9201/media:9201", max_pixels=max_pixels,
                              status_id="s9201", media_id="9201", origin="local")
    remote, _ = register_bytes(protected, original(40), owner=REMOTE_OWNER,
                               source="peer:b.example:x", max_pixels=max_pixels,
                               origin="peer:b.example")
    matcher = ProtectedMatcher(protected)
    out = {"local_pid": local["id"], "remote_pid": remote["id"]}
    for media_id, photo, pid in (("9301", 30, local["id"]), ("9302", 40, remote["id"])):
        data = edited(photo)
        scanned(stack, media_id, data, account="77")
        [best] = [m for m in matcher.match(Image.open(io.BytesIO(data)).convert("RGB"))
                  if m["id"] == pid]
        match = {"bank": "protected", "category": "nonconsensual_ai_edit",
                 "type": "derivative", "value": best["sha256"], "distance": 0,
                 "entry_id": None, "protected_id": best["id"], "owner": best["owner"],
                 "score": best["score"], "evidence": best["evidence"],
                 "consent": "not_allowed", "reasons": ["C2PA manifest: generative AI edit"]}
        opened = open_review_item(svc.db, {"media_id": media_id, "findings": [
            {"media_id": media_id, "match": match}]}, redis=svc.redis)
        out[media_id] = opened["review_item_id"]
    return out

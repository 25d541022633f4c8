"""Seeding the review queue the way production does: webhook → scan worker → review action."""

from __future__ import annotations

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

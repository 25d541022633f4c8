"""Consent end to end on loopback: two Consentry instances, one Mastodon-API server.

alice (home a.test) signs in over OAuth and says "not allowed"; her existing picture (found by
the backfill) and a new one (through the scan pipeline) are registered and published in a
signed consent record; b.test pulls it and fetches the fingerprints. bob posts an AI-edited
derivative (crop + replaced region, C2PA AI manifest signed with a test CA) on b.test: it is
caught there, reported on the Mastodon server, queued for review, and alice gets a direct
message through a.test. ``consent/check`` answers on both sides; alice then allows edits, the
withdrawal reaches b.test, and the next derivative passes. A consent record that a.test signs
for a person on c.test is refused by b.test.
"""

from __future__ import annotations

import io
import json
import re
import time

import pytest
import requests

from plugin.consent.remote import apply_received
from plugin.federation.encoding import multibase_encode
from plugin.federation.identity import key_url
from plugin.federation.ids import uuid7
from plugin.federation.records import hash_data
from plugin.storage.federation_models import ChangeLogRecord
from plugin.storage.protected_store import ProtectedStore
from plugin.storage.review_store import ReviewStore
from tests.conftest import ADMIN_TOKEN, WEBHOOK_SECRET, sign
from tests.consent.c2pa_signing import make_signer, with_ai_manifest
from tests.federation.instances import Instance, pair
from tests.protection.images import edited, original
from tests.support.mastodon_server import MODERATOR_TOKEN, start_mastodon
from tests.test_pipeline import TEMPLATE
from workers import context
from workers.main import run_worker

ALICE = "https://a.test/users/alice"
QUEUES = ["scan", "act", "default", "sync"]


def work(inst: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run this instance's RQ worker (burst) with the environment it would have."""
    s = inst.settings
    env = {"CONSENTRY_DATA_DIR": str(s.data_dir), "CONSENTRY_REDIS_URL": s.redis_url,
           "CONSENTRY_DATABASE_URL": s.database_url, "CONSENTRY_ADMIN_TOKEN": ADMIN_TOKEN,
           "CONSENTRY_MASTODON_WEBHOOK_SECRET": WEBHOOK_SECRET,
           "CONSENTRY_MEDIA_ALLOW_PRIVATE": "1", "CONSENTRY_INSTANCE_URL": s.instance_url,
           "CONSENTRY_INSTANCE_TOKEN": s.instance_token, "CONSENTRY_PUBLIC_URL": s.public_url,
           "CONSENTRY_FEDERATION_DOMAIN": s.federation_domain,
           "CONSENTRY_ALLOW_INSECURE_PEERS": "1", "CONSENTRY_FEDERATION_VERIFY_WORKERS": "1",
           "CONSENTRY_CLASSIFIERS": "0"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    context.reset()
    run_worker(QUEUES, burst=True)
    context.reset()


def sign_in(inst: Instance, username: str) -> tuple[requests.Session, str]:
    """The OAuth dance over real HTTP (the browser test does it with Chromium)."""
    http = requests.Session()
    picker = http.get(inst.base_url + "/consent/login", timeout=30)
    assert picker.status_code == 200 and "mastodon_mock" in picker.text
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', picker.text))
    page = http.post(picker.url.split("?")[0], timeout=30,
                     data={**fields, "username": username})
    assert page.status_code == 200 and page.url == inst.base_url + "/consent"
    return http, re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def choose(inst: Instance, http: requests.Session, csrf: str, choice: str) -> str:
    page = http.post(inst.base_url + "/consent", data={"csrf_token": csrf, "choice": choice},
                     timeout=30)
    assert page.status_code == 200 and "Saved" in page.text
    return page.text


def post(mastodon, client, inst: Instance, data: bytes, text: str) -> dict:
    """Post a picture on the Mastodon server and deliver the webhook to ``inst``."""
    media = client.media_post(io.BytesIO(data), mime_type="image/jpeg", file_name="p.jpg")
    status = client.status_post(text, media_ids=[media["id"]], visibility="public")
    obj = dict(TEMPLATE["object"])
    obj.update(id=str(status["id"]), url=f"{mastodon.base_url}/@x/{status['id']}",
               visibility="public",
               account={**obj["account"], "id": str(status["account"]["id"]),
                        "acct": status["account"]["acct"]},
               media_attachments=[{**TEMPLATE["object"]["media_attachments"][0],
                                   "id": str(media["id"]), "url": media["url"],
                                   "remote_url": None}])
    body = json.dumps({"event": "status.created", "created_at": obj["created_at"],
                       "object": obj}).encode()
    r = requests.post(inst.base_url + "/webhooks/mastodon", data=body, timeout=30,
                      headers={"X-Hub-Signature": sign(body)})
    assert r.status_code == 202, r.text
    return status


def check(inst: Instance, data: bytes) -> dict:
    r = requests.post(inst.base_url + "/api/v1/consent/check", timeout=30,
                      files={"image": ("q.jpg", data, "image/jpeg")})
    assert r.status_code == 200, r.text
    return r.json()


def forge_consent(signer: Instance, actor: str) -> dict:
    """A validly signed consent record by ``signer`` for someone it does not host.

    ``sign_record`` refuses to make one, so the proof is built by hand, as a rogue instance
    would."""
    ident = signer.fed.identity
    record = {"type": "consent", "id": uuid7(), "issuer": signer.fed.domain,
              "issued": "2025-06-15T15:00:00Z", "expires": None, "actor": actor,
              "policy": {"ai_edit": "not_allowed"}, "protected_hashes": [],
              "stated": "2025-06-15T15:00:00Z"}
    options = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022",
               "verificationMethod": key_url(signer.fed.domain, ident.key_id),
               "created": "2025-06-15T15:00:00Z", "proofPurpose": "assertionMethod"}
    signature = ident.private_key.sign(hash_data(record, options))
    return {**record, "proof": {**options, "proofValue": multibase_encode(signature)}}


@pytest.mark.slow
def test_not_allowed_is_enforced_across_instances_and_withdrawn(tmp_path, redis_url,
                                                                monkeypatch):
    mastodon = start_mastodon()
    over = {"instance_url": mastodon.base_url, "instance_token": MODERATOR_TOKEN,
            "classifiers": False}
    a = Instance("a", tmp_path, redis_url, 1, **over)
    b = Instance("b", tmp_path, redis_url, 2, **over)
    try:
        pair(a, b)
        alice = mastodon.client("alice")
        bob_token = requests.post(mastodon.base_url + "/api/v1/_mock/dev_user", timeout=30,
                                  json={"username": "bob"}).json()["access_token"]
        bob = mastodon.client(token=bob_token)
        existing = post(mastodon, alice, a, original(5), "before")
        work(a, monkeypatch)  # the shipped default (not allowed) already protects new posts
        store_a = ProtectedStore(a.services.db)
        assert [p["status_id"] for p in store_a.protected_find(owner=ALICE)] == [
            str(existing["id"])]

        # alice signs in and chooses; the backfill finds what she posted earlier too.
        http, csrf = sign_in(a, "alice")
        choose(a, http, csrf, "allowed")
        assert store_a.protected_find(owner=ALICE) == []
        page = choose(a, http, csrf, "not_allowed")
        assert "Not allowed" in page
        work(a, monkeypatch)
        assert len(store_a.protected_find(owner=ALICE)) == 1  # the backfill re-registered it
        post(mastodon, alice, a, original(14), "after")
        work(a, monkeypatch)
        mine = store_a.protected_find(owner=ALICE)
        assert len(mine) == 2 and {p["visibility"] for p in mine} == {"public"}
        from plugin.storage.consent_store import ConsentStore

        assert [h["choice"] for h in ConsentStore(a.services.db).consent_history(ALICE)] == [
            "not_allowed", "allowed"]

        # b.test pulls the record (nudged by a.test); the sync job applies it at once,
        # fetching the fingerprints, so applying again finds nothing left to do.
        work(b, monkeypatch)
        assert apply_received(b.fed)["applied"] == 0
        store_b = ProtectedStore(b.services.db)
        theirs = store_b.protected_find(owner=ALICE)
        assert sorted(p["sha256"] for p in theirs) == sorted(p["sha256"] for p in mine)
        assert {p["origin"] for p in theirs} == {"peer:a.test"}

        # bob posts an AI-edited derivative on b.test.
        signer = make_signer()
        fake = with_ai_manifest(edited(5), signer)
        status = post(mastodon, bob, b, fake, "look what I made")
        work(b, monkeypatch)  # scan, act (report, review), notify → forwarded to a.test
        reports = mastodon.client(token=MODERATOR_TOKEN).admin_reports()
        assert [str(s["id"]) for r in reports for s in r["statuses"]] == [str(status["id"])]
        assert "derivative match" in reports[0]["comment"]
        [item] = ReviewStore(b.services.db).items_list()
        assert item["category"] == "nonconsensual_ai_edit"
        work(a, monkeypatch)  # a.test sends alice the direct message
        dms = [n for n in alice.notifications() if n["type"] == "mention"]
        assert dms and "AI-edited copy" in dms[0]["status"]["content"]
        assert dms[0]["status"]["visibility"] == "direct"

        # consent/check, on both sides.
        answer = check(b, fake)
        assert answer["decision"] == "not_allowed" and answer["owner"] == ALICE
        assert answer["consent_record"]["issuer"] == "a.test"
        assert answer["vocabularies"]["aipref"] == "ai-use=n"
        assert answer["vocabularies"]["cawg"] == {"cawg.ai_inference": "notAllowed"}
        assert check(b, original(3))["decision"] == "unknown"
        pdq = mine[0]["pdq"]
        by_pdq = requests.get(a.base_url + "/api/v1/consent/check", params={"pdq": pdq},
                              timeout=30).json()
        assert by_pdq["decision"] == "not_allowed"
        assert by_pdq["consent_record"]["actor"] == ALICE

        # alice allows edits: withdrawn here at once, and on b.test after its next sync.
        choose(a, http, csrf, "allowed")
        assert store_a.protected_find(owner=ALICE) == []
        work(a, monkeypatch)
        work(b, monkeypatch)
        assert store_b.protected_find(owner=ALICE) == []
        time.sleep(1.1)  # the web process's matcher replays the change log once a second
        after = check(b, fake)
        assert after["decision"] == "unknown", after
        post(mastodon, bob, b, with_ai_manifest(edited(5, patch_from=3), signer), "again")
        work(b, monkeypatch)
        assert len(mastodon.client(token=MODERATOR_TOKEN).admin_reports()) == 1

        # a.test signs a consent record for a person on c.test: b.test refuses it.
        forged = forge_consent(a, "https://c.test/users/carol")
        with a.services.db.session() as s:
            s.add(ChangeLogRecord(id=forged["id"], type="consent", category="consent",
                                  visibility="peers", signed=json.dumps(forged)))
        from plugin.federation.sync import sync_peer

        summary = sync_peer(b.fed, b.peer_id(a))
        assert any(k.startswith("refused") for k in summary["counts"]), summary
        assert ConsentStore(b.services.db).remote_consent_get(
            "https://c.test/users/carol") is None
    finally:
        a.stop()
        b.stop()
        mastodon.stop()

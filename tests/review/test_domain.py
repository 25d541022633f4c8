"""The moderators' side below the browser: sign-in security, decisions, statements of
reasons, legal hold, retention and NCII takedown intake — on real SQLite/PostgreSQL and Redis.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from cryptography.exceptions import InvalidTag
from PIL import Image

from plugin.hashing.image_hashes import hash_image
from plugin.mastodon.payloads import MediaRef, StatusRef
from plugin.review import decisions, legal_hold, retention
from plugin.review.items import open_review_item
from plugin.review.passwords import hash_password
from plugin.storage.models import utcnow
from plugin.storage.review_store import ReviewStore
from tests.conftest import corpus_photo
from tests.review.conftest import MOD_PASSWORD, add_moderator
from tests.test_pipeline import recompressed


def scanned(stack, media_id: str, data: bytes, account: str = "42") -> dict:
    """A media as the scan pipeline records it (real ScanStore rows)."""
    scans = stack.services.scans
    status = StatusRef(status_id=f"s{media_id}", url=f"https://x.example/@a/{media_id}",
                       account_id=account, account_acct="alice", visibility="public",
                       via="status")
    media = MediaRef(media_id, "image", f"{stack.media.base_url}/media/{media_id}.jpg", None)
    (stack.media.root / f"{media_id}.jpg").write_bytes(data)
    scans.scan_claim(status, media)
    hashes = hash_image(data, Image.open(io.BytesIO(data)).convert("RGB"))
    scans.scan_save(media_id, state="scanned", sha256=hashes.sha256, pdq=hashes.pdq,
                    pdq_quality=hashes.pdq_quality, matches=[], labels=[])
    return {"sha256": hashes.sha256, "pdq": hashes.pdq}


def open_item(stack, media_id: str, category: str = "csam") -> int:
    finding = {"media_id": media_id, "match": {"bank": "seed", "category": category,
                                               "type": "pdq", "value": "0" * 64,
                                               "distance": 4}}
    return open_review_item(stack.services.db, {"media_id": media_id, "findings": [finding]},
                            redis=stack.services.redis)["review_item_id"]


def signed_in(stack, name: str = "mod1"):
    client = stack.app.test_client()
    page = client.get("/review/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/review/login", data={"name": name, "password": MOD_PASSWORD,
                                                   "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/review/").get_data(as_text=True)  # the token is renewed at sign-in
    return client, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_sign_in_needs_csrf_and_a_password_change_ends_sessions(review_stack):
    add_moderator(review_stack, role="moderator")
    anonymous = review_stack.app.test_client()
    assert anonymous.get("/review/").status_code == 302
    assert anonymous.post("/review/login", data={"name": "mod1",
                                                 "password": MOD_PASSWORD}).status_code == 403
    client, _token = signed_in(review_stack)
    cookie = client.get_cookie("consentry_session")
    assert cookie.http_only and cookie.same_site == "Strict"
    assert client.get("/review/").status_code == 200
    assert client.post("/review/items/1/decision", data={"decision": "escalate"}
                       ).status_code == 403  # no token
    assert client.get("/review/statements.csv").status_code == 403  # not an admin
    review_stack.store.moderator_update("mod1", password_hash=hash_password("another long pw"))
    assert client.get("/review/").status_code == 302


def test_failed_sign_ins_are_rate_limited(review_stack):
    add_moderator(review_stack)
    client = review_stack.app.test_client()
    page = client.get("/review/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    codes = [client.post("/review/login", data={"name": "mod1", "password": "nope nope nope",
                                                 "csrf_token": token}).status_code
             for _ in range(11)]
    assert codes == [401] * 10 + [429]


@pytest.mark.usefixtures("redis_url")
@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_confirmed_csam_is_sealed_and_opening_it_is_logged(review_stack, db, request):
    if db == "postgresql":  # the same domain on PostgreSQL, with its own app and services
        import dataclasses

        from plugin.services import Services
        from plugin.web.app import create_app

        url = request.getfixturevalue("postgres").create_database("t_review_hold")
        svc = Services.from_settings(dataclasses.replace(review_stack.services.settings,
                                                         database_url=url))
        svc.db.migrate()
        review_stack.services, review_stack.app = svc, create_app(services=svc)
    stack = review_stack
    stack.services.banks.bank_create("csam-confirmed", "csam")
    hashes = scanned(stack, "501", corpus_photo(3).read_bytes())
    item_id = open_item(stack, "501")
    deps = decisions.ReviewDeps.from_services(stack.services)
    result = decisions.confirm(deps, item_id, moderator="mod1", bank="csam-confirmed")
    assert result["entries_added"] == 2 and result["shared"] is False
    held = stack.store.hold_get(item_id)
    assert hashes["pdq"].encode() not in held["ciphertext"]
    assert held["expires_at"] - held["created_at"] >= timedelta(days=365)
    opened = legal_hold.open_hold(stack.store, stack.services.audit, stack.services.settings,
                                  item_id, accessor="moderator:mod1", purpose="NCMEC report")
    assert opened["evidence"]["item"]["pdq"] == hashes["pdq"]
    [access] = stack.services.audit.audit_list(action="legal_hold.access")
    assert access["detail"]["purpose"] == "NCMEC report"
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = legal_hold.hold_key(stack.services.settings)
    with pytest.raises(InvalidTag):  # bound to its item: cannot be moved onto another
        AESGCM(key).decrypt(held["nonce"], held["ciphertext"], b"item:999")
    with pytest.raises(Exception, match="already decided"):
        decisions.dismiss(deps, item_id, moderator="mod2")
    assert retention.purge(stack.store, stack.services.settings,
                           now=utcnow() + timedelta(days=400)) == {"legal_holds": 1,
                                                                   "review_items": 1}


def test_statements_export_in_dsa_field_names(review_stack):
    add_moderator(review_stack)
    review_stack.services.banks.bank_create("spam-confirmed", "spam")
    scanned(review_stack, "601", corpus_photo(1).read_bytes())
    scanned(review_stack, "602", corpus_photo(20).read_bytes())
    first, second = open_item(review_stack, "601", "spam"), open_item(review_stack, "602", "spam")
    client, token = signed_in(review_stack)
    for item_id, form in ((first, {"decision": "confirm", "bank": "spam-confirmed"}),
                          (second, {"decision": "dismiss"})):
        response = client.post(f"/review/items/{item_id}/decision",
                               data={**form, "csrf_token": token})
        assert response.status_code == 302
    rows = [json.loads(line) for line in
            client.get("/review/statements.jsonl").get_data(as_text=True).splitlines()]
    assert {r["consentry_decision"] for r in rows} == {"refuse_pending_review", "confirm"}
    confirm = next(r for r in rows if r["consentry_decision"] == "confirm")
    assert confirm["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert confirm["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert confirm["automated_detection"] == "Yes"
    assert confirm["territorial_scope"][:2] == ["AT", "BE"]
    assert confirm["puid"] == "media:601" and confirm["consentry_redress"]
    text = client.get("/review/statements.csv?all=1").get_data(as_text=True)
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == 4  # two automated refusals, a confirm and a (non-restrictive) dismiss
    assert json.loads(table[0]["territorial_scope"])[0] == "AT"
    assert {"decision_visibility", "category", "automated_decision"} <= set(table[0])


def test_takedown_finds_identical_and_derivative_copies_with_a_48_hour_clock(review_stack):
    add_moderator(review_stack)
    original = corpus_photo(5).read_bytes()
    scanned(review_stack, "701", original)                       # the same file
    scanned(review_stack, "702", recompressed(corpus_photo(5)))  # resized, recompressed
    scanned(review_stack, "703", corpus_photo(14).read_bytes())  # another picture
    client = review_stack.app.test_client()
    response = client.post("/api/v1/takedown", data={
        "picture": (io.BytesIO(original), "me.jpg"), "contact": "me@example.org"},
        content_type="multipart/form-data")
    assert response.status_code == 202, response.json
    assert response.json["copies"] == 2
    store = ReviewStore(review_stack.services.db)
    items = {i["media_id"]: i for i in store.items_list()}
    assert set(items) == {"701", "702"}
    assert items["701"]["findings"][0]["match"]["type"] == "sha256"
    assert items["702"]["findings"][0]["match"]["type"] == "pdq"
    due = items["701"]["due_at"] - items["701"]["created_at"]
    assert timedelta(hours=47, minutes=59) < due <= timedelta(hours=48)
    ncii = {e["hash_type"] for e in review_stack.services.banks.entries_export("ncii")}
    assert ncii == {"sha256", "pdq"}
    taken = store.takedown_get(response.json["id"])
    assert taken["contact"] == "me@example.org" and taken["copies_found"] == 2
    assert "picture" not in json.dumps(taken, default=str)
    # Not refused before a moderator confirms the request.
    assert client.get("/gate?uri=/system/media_attachments/files/000/000/701/original/x.jpg"
                      ).status_code == 200
    # Overdue items are highlighted for moderators.
    with review_stack.services.db.session() as s:
        from plugin.storage.review_models import ReviewItem

        s.get(ReviewItem, items["701"]["id"]).due_at = utcnow() - timedelta(hours=2)
    mod, _ = signed_in(review_stack)
    page = mod.get("/review/").get_data(as_text=True)
    assert "OVERDUE by 2 h" in page and 'class="count overdue"' in page
    form = client.get("/takedown").get_data(as_text=True)
    assert "discards the picture" in form


def test_dashboard_and_job_dashboard_sit_behind_sign_in(review_stack):
    add_moderator(review_stack, "admin1", role="admin")
    add_moderator(review_stack, "mod2", role="moderator")
    anonymous = review_stack.app.test_client()
    assert anonymous.get("/review/rq/").status_code == 302
    assert anonymous.get("/review/dashboard").status_code == 302
    scanned(review_stack, "801", corpus_photo(1).read_bytes())
    admin, _ = signed_in(review_stack, "admin1")
    page = admin.get("/review/dashboard").get_data(as_text=True)
    assert 'id="scans-today">1<' in page and "<svg" in page
    jobs = admin.get("/review/rq/")
    assert jobs.status_code == 200 and b"RQ" in jobs.data
    assert admin.get("/review/rq/0/data/queues.json").status_code == 200
    moderator, _ = signed_in(review_stack, "mod2")
    assert moderator.get("/review/rq/").status_code == 403


def test_cli_adds_a_moderator_who_can_then_sign_in(review_stack, monkeypatch):
    from plugin.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(MOD_PASSWORD + "\n"))
    assert main(["moderators", "add", "mod1", "--password-stdin"]) == 0
    client, _ = signed_in(review_stack)
    assert client.get("/review/").status_code == 200
    assert main(["moderators", "disable", "mod1"]) == 0
    assert client.get("/review/").status_code == 302

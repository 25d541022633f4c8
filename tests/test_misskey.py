"""Misskey's POST /v1/detect-images, answered by a real worker with the shipped models."""

from __future__ import annotations

import dataclasses
import io
import threading
import time

import pytest
from PIL import Image

from plugin.hashing.image_hashes import file_digests
from plugin.misskey import nsfwjs_predictions
from plugin.services import Services
from plugin.storage.banks import EntryInput
from plugin.storage.review_store import ReviewStore
from plugin.web.app import create_app
from tests.conftest import corpus_photo
from workers.main import run_worker

KEY = "misskey-test-key"


def png_299(n: int) -> bytes:
    out = io.BytesIO()
    Image.open(corpus_photo(n)).convert("RGB").resize((299, 299)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def misskey_client(worker_env, services, monkeypatch):
    monkeypatch.setenv("CONSENTRY_MISSKEY_API_KEY", KEY)
    svc = Services.from_settings(dataclasses.replace(services.settings, misskey_api_key=KEY,
                                                     misskey_timeout_s=30))
    return create_app(services=svc).test_client()


def call_with_worker(client, data: dict):
    """Post from a thread while a real worker serves the classify queue, as in production
    (RQ's worker installs signal handlers, so it runs in the main thread)."""
    answer: dict = {}

    def post() -> None:
        answer["response"] = client.post("/v1/detect-images", data=data,
                                         headers={"Authorization": f"Bearer {KEY}"},
                                         content_type="multipart/form-data")

    request = threading.Thread(target=post)
    request.start()
    deadline = time.monotonic() + 60
    while request.is_alive() and time.monotonic() < deadline:
        run_worker(["classify"], burst=True)
        request.join(0.2)
    return answer["response"]


def test_benign_frames_are_neutral_and_banked_ones_are_porn(misskey_client, services):
    banked = png_299(30)
    services.banks.bank_create("b", "ncii")
    services.banks.entries_add("b", [EntryInput("sha256", file_digests(banked)[0])])
    response = call_with_worker(misskey_client, {
        "image0": (io.BytesIO(png_299(20)), "frame0.png", "image/png"),
        "image1": (io.BytesIO(banked), "frame1.png", "image/png"),
        "image2": (io.BytesIO(b"not an image"), "frame2.png", "image/png"),
        "image3": (io.BytesIO(b"<svg/>"), "frame3.svg", "image/svg+xml"),
    })
    assert response.status_code == 200
    body = response.json
    assert body["success"] is True
    first, second, third, fourth = body["result"]["results"]
    probs = {p["className"]: p["probability"] for p in first["predictions"]}
    assert set(probs) == {"Drawing", "Hentai", "Neutral", "Porn", "Sexy"}
    assert probs["Neutral"] > 0.5 and probs["Porn"] < 0.3
    assert first["predictions"][0]["className"] == "Neutral"
    assert {p["className"]: p["probability"] for p in second["predictions"]}["Porn"] == 1.0
    assert third == {"success": False, "error": {"code": "IMAGE_DECODE_FAILED",
                                                 "message": third["error"]["message"]}}
    assert fourth["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize("headers, data, content_type, status, code", [
    ({}, {"a": (io.BytesIO(b"x"), "a.png", "image/png")}, "multipart/form-data", 401,
     "AUTHENTICATION_REQUIRED"),
    ({"Authorization": "Bearer nope"}, {}, "multipart/form-data", 401,
     "AUTHENTICATION_REQUIRED"),
    ({"Authorization": f"Bearer {KEY}"}, {}, "multipart/form-data", 400, "INVALID_REQUEST"),
    ({"Authorization": f"Bearer {KEY}"}, '{"x": 1}', "application/json", 415,
     "UNSUPPORTED_MEDIA_TYPE"),
])
def test_request_level_errors_use_misskeys_shape(misskey_client, headers, data, content_type,
                                                 status, code):
    response = misskey_client.post("/v1/detect-images", data=data, headers=headers,
                                   content_type=content_type)
    assert response.status_code == status
    assert response.json == {"success": False, "error": {"code": code,
                                                          "message": response.json["error"][
                                                              "message"]}}


def test_too_many_parts_is_413(misskey_client):
    data = {f"image{i}": (io.BytesIO(b"x"), f"{i}.png", "image/png") for i in range(17)}
    response = misskey_client.post("/v1/detect-images", data=data,
                                   headers={"Authorization": f"Bearer {KEY}"},
                                   content_type="multipart/form-data")
    assert response.status_code == 413 and response.json["error"]["code"] == "REQUEST_TOO_LARGE"


def test_endpoint_is_off_without_a_key(client):
    response = client.post("/v1/detect-images", data={}, content_type="multipart/form-data")
    assert response.status_code == 404


def test_no_worker_means_model_unavailable_not_a_hang(services):
    svc = Services.from_settings(dataclasses.replace(services.settings, misskey_api_key=KEY,
                                                     misskey_timeout_s=1.5))
    client = create_app(services=svc).test_client()
    response = client.post("/v1/detect-images",
                           data={"a": (io.BytesIO(png_299(3)), "a.png", "image/png")},
                           headers={"Authorization": f"Bearer {KEY}"},
                           content_type="multipart/form-data")
    assert response.status_code == 503
    assert response.json["error"]["code"] == "MODEL_UNAVAILABLE"


def test_mapping_from_taxonomy():
    verdicts = [{"taxonomy": {"nudity.partial": 0.7, "neutral": 0.2}},
                {"taxonomy": {"sexual.suggestive": 0.4, "nudity.explicit": 0.1}}]
    probs = {p["className"]: p["probability"] for p in nsfwjs_predictions(verdicts, False)}
    assert probs == {"Sexy": 0.7, "Porn": 0.1, "Neutral": pytest.approx(0.3), "Drawing": 0.0,
                     "Hentai": 0.0}


def _protect_and_frame(services, owner: str) -> bytes:
    from plugin.protection.register import register_bytes
    from plugin.storage.protected_store import ProtectedStore
    from tests.protection.images import edited

    register_bytes(ProtectedStore(services.db), corpus_photo(5).read_bytes(), owner=owner,
                   source="file:5", max_pixels=50_000_000, visibility="public")
    frame = io.BytesIO()
    Image.open(io.BytesIO(edited(5))).convert("RGB").resize((299, 299)).save(frame, "PNG")
    return frame.getvalue()


def _detect(client, frame: bytes) -> dict[str, float]:
    response = call_with_worker(client, {"image0": (io.BytesIO(frame), "f.png", "image/png")})
    [result] = response.json["result"]["results"]
    assert result["success"] is True
    return {p["className"]: p["probability"] for p in result["predictions"]}


def test_a_derivative_of_a_protected_picture_is_recorded(misskey_client, services):
    owner = "https://a.test/users/alice"  # nobody we know the choice of: a plain repost
    probs = _detect(misskey_client, _protect_and_frame(services, owner))
    [record] = services.audit.audit_list(action="consent.derivative_seen")
    assert record["subject"] == owner and record["evidence"]["score"] > 0.5
    assert record["outcome"] == "recorded"
    assert record["detail"]["verdict"]["category"] == "repost"
    assert probs["Porn"] < 0.5 and not ReviewStore(services.db).items_list()


@pytest.fixture
def consent_misskey(worker_env, services, monkeypatch):
    """Our own person's picture, with a policy AI label: the benign frame's ``neutral`` label
    stands in for a policy-defined AI signal (no shipped model detects AI edits)."""
    from workers import context

    monkeypatch.setenv("CONSENTRY_FEDERATION_DOMAIN", "home.test")
    monkeypatch.setenv("CONSENTRY_CONSENT_AI_LABELS", "neutral")
    context.reset()
    return "https://home.test/users/alice"


def test_an_ai_edit_the_owner_refused_is_flagged_reviewed_and_told(
        consent_misskey, misskey_client, services):
    from plugin.consent.registration import consent_store
    from plugin.queueing import queue

    owner = consent_misskey
    consent_store(services).consent_set(owner, "not_allowed", via="test")
    frame = _protect_and_frame(services, owner)
    probs = _detect(misskey_client, frame)
    assert probs["Porn"] == 1.0  # Misskey marks it sensitive
    [item] = ReviewStore(services.db).items_list()
    assert item["source"] == "misskey" and item["category"] == "nonconsensual_ai_edit"
    assert item["sha256"] == file_digests(frame)[0] and item["media_url"] is None
    [finding] = item["findings"]
    assert finding["match"]["owner"] == owner and finding["match"]["reasons"] == ["label:neutral"]
    [statement] = [s for s in ReviewStore(services.db).statements_iter()
                   if s["fields"]["puid"] == f"misskey:{item['sha256']}"]
    assert statement["fields"]["automated_detection"] == "Yes" and statement["restrictive"]
    [record] = services.audit.audit_list(action="consent.derivative_seen")
    assert record["outcome"] == "acted"
    jobs = queue("act", services.redis).jobs
    [notify] = [j for j in jobs if j.func_name == "workers.consent.notify_owner_job"]
    assert notify.args[0]["owner"] == owner and notify.args[0]["review_item"] == item["id"]

    # Moderators see the item beside the protected original, told the frame is not kept.
    page = _review_page(misskey_client, services, item["id"])
    protected_id = finding["match"]["protected_id"]
    assert "A Misskey upload check" in page and f"Protected original #{protected_id}" in page

    # The same frame asked about again is the same item and the same notice.
    assert _detect(misskey_client, frame)["Porn"] == 1.0
    assert len(ReviewStore(services.db).items_list()) == 1
    assert len([j for j in queue("act", services.redis).jobs
                if j.func_name == "workers.consent.notify_owner_job"]) == 1


def _review_page(client, services, item_id: int) -> str:
    import re

    from plugin.review.passwords import hash_password

    ReviewStore(services.db).moderator_create("mod1", hash_password("a long passphrase"), "admin")
    page = client.get("/review/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/review/login", data={"name": "mod1", "password": "a long passphrase",
                                       "csrf_token": token})
    response = client.get(f"/review/items/{item_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_an_ai_edit_the_owner_allowed_passes(consent_misskey, misskey_client, services):
    from plugin.consent.registration import consent_store

    consent_store(services).consent_set(consent_misskey, "allowed", via="test")
    probs = _detect(misskey_client, _protect_and_frame(services, consent_misskey))
    assert probs["Porn"] < 0.5 and not ReviewStore(services.db).items_list()
    [record] = services.audit.audit_list(action="consent.derivative_seen")
    assert record["detail"]["verdict"]["category"] == "repost"

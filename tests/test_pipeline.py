"""End to end on real parts: webhook → Redis → worker → fetch → hash → match → report.

Mastodon is mastodon-mock on loopback (a real HTTP implementation of the REST and admin
API); media come from a loopback HTTP server; jobs run in a real RQ worker (burst mode) on a
real Redis; storage is SQLite and PostgreSQL. Assertions read the Mastodon server's state.
"""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from PIL import Image

from plugin.hashing.image_hashes import pdq_of
from plugin.storage.banks import EntryInput
from tests.conftest import ADMIN_TOKEN, FIXTURES, corpus_photo, make_settings, sign
from tests.support.mastodon_server import MODERATOR_TOKEN, start_mastodon
from workers.main import run_worker

TEMPLATE = json.loads((FIXTURES / "status.created-image-1-focus-private-reply.json")
                      .read_bytes())


@pytest.fixture
def mastodon():
    server = start_mastodon()
    yield server
    server.stop()


@pytest.fixture
def stack(tmp_path, redis_url, any_db_url, mastodon, media_server, monkeypatch):
    from plugin.services import Services
    from plugin.web.app import create_app
    from workers import context

    settings = make_settings(tmp_path, redis_url, any_db_url, instance_url=mastodon.base_url,
                             instance_token=MODERATOR_TOKEN)
    env = {"CONSENTRY_DATA_DIR": str(settings.data_dir), "CONSENTRY_REDIS_URL": redis_url,
           "CONSENTRY_DATABASE_URL": any_db_url, "CONSENTRY_ADMIN_TOKEN": ADMIN_TOKEN,
           "CONSENTRY_MASTODON_WEBHOOK_SECRET": settings.mastodon_webhook_secret,
           "CONSENTRY_MEDIA_ALLOW_PRIVATE": "1", "CONSENTRY_INSTANCE_URL": mastodon.base_url,
           "CONSENTRY_INSTANCE_TOKEN": MODERATOR_TOKEN}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    context.reset()
    services = Services.from_settings(settings)
    services.db.migrate()
    yield dataclasses.make_dataclass("Stack", ["services", "client", "mastodon", "media"])(
        services, create_app(services=services).test_client(), mastodon, media_server)
    context.reset()
    services.db.dispose()


def recompressed(path, scale: float = 0.5, quality: int = 60) -> bytes:
    img = Image.open(path).convert("RGB")
    img = img.resize((int(img.width * scale), int(img.height * scale)))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def webhook_body(status, media: list[tuple[str, str]], event: str = "status.created") -> bytes:
    obj = dict(TEMPLATE["object"])
    obj.update(id=str(status["id"]), account={**obj["account"], "id": str(status["account"]["id"]),
                                              "acct": status["account"]["acct"]},
               media_attachments=[{**TEMPLATE["object"]["media_attachments"][0], "id": mid,
                                   "url": url, "remote_url": None} for mid, url in media])
    return json.dumps({"event": event, "created_at": obj["created_at"], "object": obj}).encode()


def deliver(stack, body: bytes) -> dict:
    response = stack.client.post("/webhooks/mastodon", data=body,
                                 headers={"X-Hub-Signature": sign(body)})
    assert response.status_code == 202, response.json
    run_worker(["scan", "act"], burst=True)
    return response.json


def reports_on(stack) -> list:
    return stack.mastodon.client(token=MODERATOR_TOKEN).admin_reports()


def scans(stack, status_id: str) -> list[dict]:
    response = stack.client.get(f"/api/v1/scans?status_id={status_id}",
                                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200
    return response.json["media"]


def test_banked_picture_is_reported_once_and_replays_change_nothing(stack):
    photo = corpus_photo(5)
    (stack.media.root / "repost.jpg").write_bytes(recompressed(photo))
    original = Image.open(photo).convert("RGB")
    stack.services.banks.bank_create("local-ncii", "ncii")
    stack.services.banks.entries_add("local-ncii", [EntryInput("pdq", pdq_of(original)[0][0])])

    alice = stack.mastodon.client("alice")
    status = alice.status_post("a picture")
    body = webhook_body(status, [("9001", stack.media.url("repost.jpg"))])
    deliver(stack, body)

    [scan] = scans(stack, str(status["id"]))
    assert scan["state"] == "scanned" and scan["error"] is None
    assert scan["pdq_quality"] >= 50 and len(scan["pdq"]) == 64 and len(scan["sha256"]) == 64
    assert scan["matches"][0]["bank"] == "local-ncii"
    assert scan["matches"][0]["distance"] <= 31
    [report] = reports_on(stack)
    assert str(report["target_account"]["id"]) == str(status["account"]["id"])
    assert report["category"] == "legal"
    assert [str(s["id"]) for s in report["statuses"]] == [str(status["id"])]

    assert deliver(stack, body)["duplicate"] is True
    # The same status re-sent as an edit without media changes: no rescan, no second report.
    deliver(stack, webhook_body(status, [("9001", stack.media.url("repost.jpg"))],
                                "status.updated"))
    assert len(reports_on(stack)) == 1
    assert stack.media.hits["/media/repost.jpg"] == 1
    audit = stack.client.get("/api/v1/audit", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    [record] = audit.json["records"]
    assert record["action"] == "report" and record["outcome"] == "done"
    assert record["evidence"]["findings"][0]["match"]["bank"] == "local-ncii"


def test_edit_with_new_media_scans_the_new_media(stack):
    alice = stack.mastodon.client("alice")
    status = alice.status_post("pictures")
    first = corpus_photo(1).name
    deliver(stack, webhook_body(status, [("7001", stack.media.url(first))]))
    deliver(stack, webhook_body(status, [("7001", stack.media.url(first)),
                                         ("7002", stack.media.url(corpus_photo(3).name))],
                                "status.updated"))
    rows = scans(stack, str(status["id"]))
    assert [r["media_id"] for r in rows] == ["7001", "7002"]
    assert all(r["state"] == "scanned" for r in rows)
    assert stack.media.hits[f"/media/{first}"] == 1
    assert reports_on(stack) == []


def test_broken_and_missing_media_are_recorded_not_retried(stack):
    (stack.media.root / "broken.jpg").write_bytes(corpus_photo(1).read_bytes()[:2000])
    status = stack.mastodon.client("alice").status_post("broken")
    deliver(stack, webhook_body(status, [("8001", stack.media.url("broken.jpg")),
                                         ("8002", stack.media.url("gone.jpg")),
                                         ("8003", stack.media.base_url + "/html")]))
    rows = {r["media_id"]: r for r in scans(stack, str(status["id"]))}
    assert rows["8001"]["state"] == "error" and "undecodable" in rows["8001"]["error"]
    assert rows["8002"]["state"] == "error" and "404" in rows["8002"]["error"]
    assert rows["8003"]["state"] == "error" and "unsupported_media" in rows["8003"]["error"]


def test_classifier_labels_are_stored_and_the_policy_acts_on_them(stack, tmp_path, monkeypatch):
    from workers import context
    from workers.classifiers import session_cache_info

    policy = tmp_path / "policy.toml"
    policy.write_text('[label.face]\nmin_score = 0.6\nactions = ["report"]\n'
                      'report_category = "other"\n')
    monkeypatch.setenv("CONSENTRY_POLICY", str(policy))
    context.reset()
    alice = stack.mastodon.client("alice")
    portrait = alice.status_post("a portrait")
    deliver(stack, webhook_body(portrait, [("6001", stack.media.url(corpus_photo(14).name))]))
    sessions_after_first = session_cache_info().created
    landscape = alice.status_post("a landscape")
    deliver(stack, webhook_body(landscape, [("6002", stack.media.url(corpus_photo(20).name))]))
    assert session_cache_info().created == sessions_after_first  # models loaded once

    [scan] = scans(stack, str(portrait["id"]))
    assert {v["model"].split("@")[0] for v in scan["verdicts"]} == {
        "open-nsfw", "nudenet-320n", "blazeface-full-range"}
    assert any(label["label"] == "face" and label["score"] >= 0.6 for label in scan["labels"])
    assert not any(label["label"].startswith("nudity") for label in scan["labels"])
    [report] = reports_on(stack)
    assert [str(s["id"]) for s in report["statuses"]] == [str(portrait["id"])]
    assert "face" in report["comment"] and report["category"] == "other"


def test_a_reencoded_clip_of_a_banked_video_is_reported_and_audio_is_recorded(stack, tmp_path):
    from tests.video.clips import photo, reencode, slideshow
    from workers import context

    original = slideshow([photo(3), photo(21)], tmp_path / "original.mp4", seconds_each=2.0)
    reencode(original, stack.media.root / "repost.mp4", size=(480, 270), crf=32)
    scanned = context.scan_context()
    from plugin.scanning import scan_bytes

    banked = scan_bytes(original.read_bytes(), scanned, "video")["video"]["vpdq"]
    stack.services.banks.bank_create("clips", "terror")
    stack.services.banks.entries_add("clips", [EntryInput("vpdq", banked)])

    status = stack.mastodon.client("alice").status_post("a clip")
    body = json.loads(webhook_body(status, [("4001", stack.media.url("repost.mp4")),
                                            ("4002", stack.media.url("sound.mp3"))]))
    body["object"]["media_attachments"][0]["type"] = "video"
    body["object"]["media_attachments"][1]["type"] = "audio"
    deliver(stack, json.dumps(body).encode())

    video, audio = scans(stack, str(status["id"]))
    assert video["state"] == "scanned" and video["video"]["frames"] > 0
    [match] = video["matches"]
    assert match["bank"] == "clips" and match["type"] == "vpdq" and match["query_pct"] >= 80
    assert audio["state"] == "unsupported" and "audio is not scanned" in audio["error"]
    [report] = reports_on(stack)
    assert report["category"] == "legal"

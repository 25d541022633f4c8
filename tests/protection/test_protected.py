"""Protected pictures: storage on SQLite and PostgreSQL, the change-log matcher, CLI and API."""

from __future__ import annotations

import io
import json

from PIL import Image

from plugin.protection.matcher import ProtectedMatcher
from plugin.protection.register import register_bytes
from plugin.services import Services
from plugin.storage.protected_store import ProtectedStore
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.protection.images import edited, original

OWNER = "https://a.test/users/alice"


def _image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_store_and_matcher_follow_the_change_log(tmp_path, any_db_url):
    services = Services.from_settings(make_settings(tmp_path, None, any_db_url))
    services.db.migrate()
    store = ProtectedStore(services.db)
    matcher = ProtectedMatcher(store, refresh_interval_s=0)
    assert matcher.match(_image(edited(5))) == []
    row, created = register_bytes(store, original(5), owner=OWNER, source="file:5",
                                  max_pixels=50_000_000, visibility="public")
    assert created and len(row["sha256"]) == 64 and len(row["pdq"]) == 64
    again, created = register_bytes(store, original(5), owner=OWNER, source="file:5",
                                    max_pixels=50_000_000)
    assert not created and again["id"] == row["id"]
    register_bytes(store, original(14), owner="https://a.test/users/bob", source="file:14",
                   max_pixels=50_000_000)
    # Another process registered them: this matcher learns it from the change log.
    [found] = matcher.match(_image(edited(5)))
    assert found["id"] == row["id"] and found["owner"] == OWNER
    assert found["score"] > 0.77 and found["evidence"]["inliers"] >= 12
    assert matcher.match(_image(original(3))) == []
    assert store.protected_remove([row["id"]], "test") == 1
    assert matcher.match(_image(edited(5))) == []
    assert store.protected_find(owner=OWNER) == []
    [gone] = store.protected_find(owner=OWNER, live=False)
    assert gone["removed_reason"] == "test"
    services.db.dispose()


def test_cli_add_then_match(tmp_path, db_url, monkeypatch, capsys):
    from plugin.cli import main

    monkeypatch.setenv("CONSENTRY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CONSENTRY_DATABASE_URL", db_url)
    (tmp_path / "orig.jpg").write_bytes(original(5))
    (tmp_path / "edit.jpg").write_bytes(edited(5))
    (tmp_path / "other.jpg").write_bytes(original(3))
    assert main(["protect", "add", str(tmp_path / "orig.jpg"), "--owner", OWNER]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["created"] is True
    assert main(["protect", "match", str(tmp_path / "edit.jpg"), str(tmp_path / "other.jpg"),
                 "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["path"].rsplit("/", 1)[1] for line in lines] == ["edit.jpg", "other.jpg"]
    [match] = lines[0]["matches"]
    assert match["id"] == added["id"] and match["owner"] == OWNER
    assert set(match) == {"id", "owner", "score", "evidence"}
    assert lines[1]["matches"] == []


def test_api_register_and_match(client):
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    r = client.post("/api/v1/protected", data={"owner": OWNER, "visibility": "public",
                                               "image": (io.BytesIO(original(5)), "p.jpg")},
                    headers=auth)
    assert r.status_code == 201, r.json
    assert client.post("/api/v1/protected", data={"owner": OWNER, "image": (
        io.BytesIO(original(5)), "p.jpg")}).status_code == 401
    r = client.post("/api/v1/protected/match",
                    data={"image": (io.BytesIO(edited(5)), "e.jpg")}, headers=auth)
    assert r.status_code == 200
    [match] = r.json["matches"]
    assert match["owner"] == OWNER and match["evidence"]["inliers"] >= 12
    r = client.post("/api/v1/protected/match",
                    data={"image": (io.BytesIO(original(14)), "o.jpg")}, headers=auth)
    assert r.json["matches"] == []

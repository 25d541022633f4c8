"""The media gate: Mastodon paths to media ids, the Redis index, and a real nginx in front.

nginx (Debian's) serves a directory laid out like Mastodon's ``public/system`` and asks
the gate through ``auth_request`` before every file: the app's ``/gate`` route under
waitress, and the dedicated ``consentry gate`` process (tests/review/test_gate_process.py
has the rest of that process's tests).
"""

from __future__ import annotations

import time

import pytest
import requests

from plugin.review.gate_index import GateIndex, media_id_from_path
from plugin.review.items import open_review_item
from tests.conftest import corpus_photo
from tests.review.conftest import GateProcess, LiveServer
from tests.review.nginx import Nginx

LOCAL = "/system/media_attachments/files/113/456/789/012/345/678/original/a.jpg"
SMALL = "/system/media_attachments/files/113/456/789/012/345/678/small/a.jpg"
CACHED = "/system/cache/media_attachments/files/113/000/000/000/000/042/original/b.jpg"
OTHER = "/system/media_attachments/files/113/000/000/000/000/777/original/c.jpg"


def test_media_ids_from_mastodon_paths():
    assert media_id_from_path(LOCAL) == "113456789012345678"
    assert media_id_from_path(CACHED + "?1700000000") == "113000000000000042"
    assert media_id_from_path("/system/media_attachments/files/000/000/001/small/x.png") == "1"
    assert media_id_from_path("/system/accounts/avatars/000/000/001/original/x.png") is None
    assert media_id_from_path("/etc/passwd") is None


def test_index_is_rebuilt_from_sql_after_redis_lost_it(review_stack):
    svc = review_stack.services
    open_review_item(svc.db, {"media_id": "113456789012345678", "findings": [
        {"media_id": "113456789012345678", "match": {"bank": "b", "category": "csam",
                                                     "type": "pdq", "distance": 3}}]},
                     redis=svc.redis)
    client = review_stack.app.test_client()
    assert client.get("/gate", headers={"X-Original-URI": SMALL}).status_code == 403
    svc.redis.flushdb()  # Redis restarted empty
    answer = client.get("/gate", headers={"X-Original-URI": LOCAL})
    assert answer.status_code == 403 and answer.headers["X-Consentry-Status"] == "451"
    assert client.get("/gate", headers={"X-Original-URI": OTHER}).status_code == 200


def test_gate_token_is_required_when_set(review_stack):
    import dataclasses

    from plugin.web.app import create_app

    svc = review_stack.services
    svc.settings = dataclasses.replace(svc.settings, gate_token="s3cret")
    client = create_app(services=svc).test_client()
    assert client.get("/gate", headers={"X-Original-URI": OTHER}).status_code == 401
    assert client.get("/gate", headers={"X-Original-URI": OTHER,
                                        "X-Consentry-Gate-Token": "s3cret"}).status_code == 200


def _wait_for_status(get, path: str, status: int, within: float = 0.5) -> float:
    """Poll until ``path`` answers ``status``; return how long the change took to arrive.

    The app route reads Redis on each request (0 s); the gate process follows the index's
    change stream, one Redis round trip behind (docs/nginx.md: "How fresh").
    """
    start = time.monotonic()
    while (answer := get(path)) != status:
        assert time.monotonic() - start < within, f"{path}: still {answer} after {within} s"
        time.sleep(0.002)
    return time.monotonic() - start


@pytest.mark.parametrize("gate_kind", ["app route", "gate process"])
def test_nginx_stops_serving_a_refused_picture_at_once(review_stack, tmp_path, gate_kind):
    root = tmp_path / "public"
    for path in (LOCAL, SMALL, CACHED, OTHER):
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / path.lstrip("/")).write_bytes(corpus_photo(1).read_bytes())
    index = GateIndex(review_stack.services.redis)
    index.rebuild([])
    gate_server = LiveServer(review_stack.app) if gate_kind == "app route" else GateProcess()
    with gate_server as gate, Nginx(tmp_path / "nginx", root,
                                    int(gate.url.rsplit(":", 1)[1])) as nginx:
        def get(path: str) -> int:
            return requests.get(nginx.url + path, timeout=5).status_code

        assert [get(p) for p in (LOCAL, SMALL, CACHED, OTHER)] == [200] * 4
        served = requests.get(nginx.url + LOCAL, timeout=5)
        assert served.content == corpus_photo(1).read_bytes()
        index.refuse("113456789012345678", None, "ncii")      # a legal category: 451
        index.refuse("113000000000000042", None, "spam")      # cached remote media: 403
        _wait_for_status(get, LOCAL, 451)
        assert get(SMALL) == 451
        _wait_for_status(get, CACHED, 403)
        assert get(OTHER) == 200
        assert b"\xff\xd8" not in requests.get(nginx.url + LOCAL, timeout=5).content
        index.allow("113456789012345678", None)               # a moderator dismissed it
        _wait_for_status(get, LOCAL, 200)
        assert get(CACHED) == 403

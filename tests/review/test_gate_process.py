"""``consentry gate``: the dedicated media gate process and its in-process copy of the index.

The process is started as operators start it (``python -m plugin.cli gate``) on the test's
Redis and database; the follower (``IndexMirror``) and the decision (``Gate``) are also
driven directly where a test needs to stop a Redis of its own.
"""

from __future__ import annotations

import socket
import statistics
import time

import pytest
import requests

from plugin.embedded_redis import EmbeddedRedis
from plugin.gate.mirror import IndexMirror
from plugin.gate.server import Gate
from plugin.review.gate_index import GateIndex
from plugin.review.items import open_review_item
from tests.review.conftest import GateProcess
from tests.support.loopback import wait_for

LOCAL = "/system/media_attachments/files/113/456/789/012/345/678/original/a.jpg"
OTHER = "/system/media_attachments/files/113/000/000/000/000/777/original/c.jpg"
PATHS = [LOCAL, OTHER, "/system/cache/media_attachments/files/000/000/042/small/b.png",
         "/system/media_attachments/files/000/000/001/original/x.gif?1700000000",
         "/system/accounts/avatars/000/000/001/original/x.png", "/"]


def _status(url: str, uri: str, **headers: str) -> tuple[int, str | None]:
    answer = requests.get(url + "/gate", headers={"X-Original-URI": uri, **headers}, timeout=5)
    return answer.status_code, answer.headers.get("X-Consentry-Status")


def test_the_gate_process_answers_as_the_app_route_does(review_stack, gate_process):
    index = GateIndex(review_stack.services.redis)
    index.rebuild([("113456789012345678", None, "ncii"), ("42", None, "spam")])
    index.refuse("1", "https://files.example/system/accounts/avatars/000/000/001/original/x.png",
                 "terror")
    index.allow("1", None)  # the media id served again; the path stays refused
    app = review_stack.app.test_client()

    def same() -> bool:
        expected = [(r.status_code, r.headers["X-Consentry-Status"])
                    for r in (app.get("/gate", headers={"X-Original-URI": p}) for p in PATHS)]
        return [_status(gate_process.url, p) for p in PATHS] == expected

    wait_for(same, timeout=2, every=0.01)
    assert _status(gate_process.url, LOCAL) == (403, "451")
    assert _status(gate_process.url, PATHS[4]) == (403, "451")  # by its URL path
    assert _status(gate_process.url, OTHER) == (200, "200")
    answer = requests.get(f"{gate_process.url}/gate?uri={LOCAL}", timeout=5)  # no header
    assert answer.status_code == 403 and answer.headers["Cache-Control"] == "no-store"


def test_a_lost_index_is_rebuilt_from_sql_without_waiting_for_a_request(review_stack,
                                                                          gate_process):
    svc = review_stack.services
    open_review_item(svc.db, {"media_id": "113456789012345678", "findings": [
        {"media_id": "113456789012345678", "match": {"bank": "b", "category": "ncii",
                                                     "type": "pdq", "distance": 3}}]},
                     redis=svc.redis)
    wait_for(lambda: _status(gate_process.url, LOCAL) == (403, "451"), timeout=2, every=0.01)
    svc.redis.flushdb()  # Redis restarted empty
    wait_for(lambda: GateIndex(svc.redis).built(), timeout=2, every=0.01)  # rebuilt by the gate
    assert svc.redis.hget("consentry:gate:refused", "id:113456789012345678") == b"ncii"
    assert _status(gate_process.url, LOCAL) == (403, "451")
    assert _status(gate_process.url, OTHER) == (200, "200")


def _raw(port: int, data: bytes, *, until_close: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        chunks = []
        while True:
            chunk = conn.recv(65536)
            chunks.append(chunk)
            if not chunk or (not until_close and b"".join(chunks).count(b"\r\n\r\n") >=
                             data.count(b"\r\n\r\n")):
                return b"".join(chunks)


def test_keep_alive_pipelining_http10_and_bad_requests(review_stack, gate_process):
    GateIndex(review_stack.services.redis).rebuild([("113456789012345678", None, "csam")])
    wait_for(lambda: _status(gate_process.url, LOCAL)[0] == 403, timeout=2, every=0.01)
    one = "GET /gate HTTP/1.1\r\nHost: g\r\nX-Original-URI: {}\r\n\r\n"
    answers = _raw(gate_process.port, (one.format(LOCAL) + one.format(OTHER)).encode())
    first, second = answers.split(b"\r\n\r\n")[:2]
    assert first.startswith(b"HTTP/1.1 403 ") and b"X-Consentry-Status: 451" in first
    assert second.startswith(b"HTTP/1.1 200 ") and b"X-Consentry-Status: 200" in second
    old = _raw(gate_process.port, f"GET /gate HTTP/1.0\r\nX-Original-URI: {LOCAL}\r\n\r\n"
               .encode(), until_close=True)  # HTTP/1.0: answered, then closed
    assert old.startswith(b"HTTP/1.1 403 ") and b"Connection: close" in old
    assert _raw(gate_process.port, b"nonsense\r\n\r\n", until_close=True).startswith(
        b"HTTP/1.1 400 ")
    huge = b"GET /gate HTTP/1.1\r\nX-Padding: " + b"a" * 20_000
    assert _raw(gate_process.port, huge, until_close=True).startswith(b"HTTP/1.1 431 ")
    assert _raw(gate_process.port, huge + b"\r\n\r\n", until_close=True).startswith(
        b"HTTP/1.1 431 ")
    assert requests.post(gate_process.url + "/gate", timeout=5).status_code == 405
    assert requests.get(gate_process.url + "/other", timeout=5).status_code == 404
    assert requests.get(gate_process.url + "/healthz", timeout=5).text == "ok\n"


def test_the_gate_token_and_rate_limit(review_stack):
    with GateProcess(CONSENTRY_GATE_TOKEN="s3cret", CONSENTRY_GATE_RATE_PER_MIN="3") as gate:
        assert _status(gate.url, OTHER)[0] == 401
        assert _status(gate.url, OTHER, **{"X-Consentry-Gate-Token": "wrong"})[0] == 401
        good = {"X-Consentry-Gate-Token": "s3cret"}
        answers = [requests.get(gate.url + "/gate", headers={"X-Original-URI": OTHER, **good},
                                timeout=5) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[-1].headers["Retry-After"] == "60"


def test_changes_reach_the_copy_within_100_ms(review_stack):
    svc = review_stack.services
    index = GateIndex(svc.redis)
    index.rebuild([])
    mirror = IndexMirror(svc.redis, lambda: []).start()
    try:
        assert mirror.loaded.wait(5)
        lags = []
        for n in range(40):
            path = f"/system/media_attachments/files/000/000/{n + 100:03d}/original/x.jpg"
            start = time.monotonic()
            index.refuse(str(n + 100), None, "spam")
            while mirror.reason(path) != "spam":
                assert time.monotonic() - start < 1.0, "change never arrived"
                time.sleep(0.0002)
            lags.append(time.monotonic() - start)
            index.allow(str(n + 100), None)
        assert statistics.median(lags) < 0.02 and max(lags) < 0.1, lags
        assert mirror.reloads == 1  # followed change by change, no reload
        svc.redis.delete("consentry:gate:changes")  # a gap: the next change forces a reload
        index.refuse("7", None, "csam")
        wait_for(lambda: mirror.reason(
            "/system/media_attachments/files/000/000/007/original/x.jpg") == "csam", timeout=2)
    finally:
        mirror.stop()


def test_redis_gone_fails_open_from_the_copy_or_closed(tmp_path, review_stack):
    server = EmbeddedRedis(tmp_path / "own-redis", appendonly=False)
    from plugin.services import redis_from_url

    redis = redis_from_url(server.start())
    mirror = None
    try:
        GateIndex(redis).rebuild([("113456789012345678", None, "ncii")])
        mirror = IndexMirror(redis, lambda: [], stale_after_s=0.3).start()
        assert mirror.loaded.wait(5)
        gate_open = Gate(mirror, token=None, fail_open=True)
        gate_closed = Gate(mirror, token=None, fail_open=False)
        assert b"X-Consentry-Status: 451" in gate_closed.answer(LOCAL, None, "p")
        server.stop()
        wait_for(lambda: not mirror.fresh(), timeout=5, every=0.05)
        assert b"X-Consentry-Status: 503" in gate_closed.answer(OTHER, None, "p")
        assert gate_open.answer(OTHER, None, "p").startswith(b"HTTP/1.1 200 ")
        assert b"X-Consentry-Status: 451" in gate_open.answer(LOCAL, None, "p")  # still known
    finally:
        if mirror:
            mirror.stop()
        server.stop()


def test_gate_address_setting(tmp_path):
    from plugin.errors import ConfigError
    from plugin.settings import Settings

    env = {"CONSENTRY_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(env).gate_bind == "127.0.0.1:8401"
    assert Settings.from_env({**env, "CONSENTRY_GATE_BIND": ""}).gate_bind == ""  # not run
    with pytest.raises(ConfigError):
        Settings.from_env({**env, "CONSENTRY_GATE_BIND": "8401"})

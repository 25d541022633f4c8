"""A peer that dies mid-sync, answers garbage or drips its answer: our sync with the other
peers goes on, and the cursor resumes where it stopped.

Real instances on loopback (``tests/federation/instances.py``). Peer ``a`` is served, after
pairing, by a real werkzeug server in front of its own app that can be told to misbehave on
the change feed: die after N pages (connection closed), answer garbage, or drip bytes.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from plugin.federation.client import PeerClient
from plugin.federation.sync import sync_all, sync_peer
from plugin.web.app import create_app
from tests.federation.instances import Instance, pair
from tests.federation.test_federation_e2e import hexes, received_values, share


class Misbehaving:
    """WSGI middleware over peer ``a``'s real app; ``mode`` decides the feed's fate."""

    def __init__(self, app) -> None:
        self.app, self.mode, self.pages, self.die_after = app, "ok", 0, 0

    def __call__(self, environ, start_response):
        if environ["PATH_INFO"] != "/federation/v1/changes" or self.mode == "ok":
            return self.app(environ, start_response)
        if self.mode == "garbage":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"records": [1, 2, "\xff"], "next": 7}']
        if self.mode == "drip":
            start_response("200 OK", [("Content-Type", "application/json")])
            return self._drip()
        self.pages += 1  # "die": real pages, then the process is gone mid-sync
        if self.pages > self.die_after:
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            raise ConnectionAbortedError("peer died")
        return self.app(environ, start_response)

    @staticmethod
    def _drip() -> Iterator[bytes]:
        for _ in range(600):
            yield b" "
            time.sleep(0.25)


@pytest.fixture
def peers(tmp_path, redis_url):
    a, b, c = (Instance(n, tmp_path, redis_url, i + 1) for i, n in enumerate("abc"))
    pair(b, a)
    pair(b, c)
    a.stop()  # serve a's app behind the middleware, on the same port
    a.services.db.dispose()
    middleware = Misbehaving(create_app(services=a.services))
    server = make_server("127.0.0.1", a.port, middleware, threaded=True, passthrough_errors=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield a, b, c, middleware
    server.shutdown()
    server.server_close()
    for inst in (b, c):
        inst.stop()


def test_a_peer_dying_mid_sync_resumes_at_its_cursor(peers):
    a, b, c, feed = peers
    share(a, hexes(1, 10))
    share(c, hexes(1, 2), bank="c-spam", category="spam")
    feed.mode, feed.die_after = "die", 2
    a_id = b.peer_id(a)
    out = sync_peer(b.fed, a_id, limit=3)
    assert out["pages"] == 2 and "error" in out
    assert sorted(received_values(b)) == hexes(1, 6)  # pages applied before the death stay
    cursor = b.fed.peers.peer_get(a_id)["cursor"]
    results = {r["peer"]: r for r in sync_all(b.fed)}
    assert results["c.test"]["records"] == 2  # the other peer is served all the same
    feed.mode = "ok"
    b.fed.peers.peer_sync_result(a_id, error=None)  # skip the back-off for the test
    assert sync_peer(b.fed, a_id, limit=3)["records"] == 4  # from the cursor, no repeats
    assert sorted(received_values(b)) == hexes(1, 10)
    assert b.fed.peers.peer_get(a_id)["cursor"] != cursor


def test_garbage_from_a_peer_is_an_error_for_that_peer_only(peers):
    a, b, c, feed = peers
    share(a, hexes(1, 2))
    share(c, hexes(1, 2), bank="c-spam", category="spam")
    feed.mode = "garbage"
    results = {r["peer"]: r for r in sync_all(b.fed)}
    assert "error" in results["a.test"] and results["a.test"]["records"] == 0
    assert results["c.test"]["records"] == 2
    assert received_values(b) == []


def test_a_dripping_peer_is_cut_off_in_bounded_time(peers):
    a, b, _c, feed = peers
    share(a, hexes(1, 2))
    feed.mode = "drip"  # a byte every 0.25 s: each read is "on time", the body never ends
    started = time.monotonic()
    out = sync_peer(b.fed, b.peer_id(a), client=PeerClient(b.fed, timeout_s=2))
    elapsed = time.monotonic() - started
    assert "error" in out and "within" in out["error"]
    assert elapsed < 6, elapsed
    feed.mode = "ok"
    b.fed.peers.peer_sync_result(b.peer_id(a), error=None)
    assert sync_peer(b.fed, b.peer_id(a))["records"] == 2

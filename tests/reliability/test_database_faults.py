"""The database locked (SQLite) or its connections cut (PostgreSQL) under a running worker:
jobs wait or are retried, nothing is lost.

SQLite: another process holds an exclusive lock for seconds while events arrive; the busy
timeout makes writers wait, then they go on. PostgreSQL: every connection of the worker is
terminated by the server (``pg_terminate_backend``) again and again during the run; the
failed unit of work surfaces as ``ServiceUnavailable`` and RQ retries the job.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from plugin.queueing import queue
from plugin.services import Services
from plugin.web.app import create_app
from tests.conftest import corpus_photo, make_settings, sign
from tests.reliability.support import spawn_worker, stop, worker_env
from tests.support.loopback import wait_for
from tests.test_pipeline import webhook_body

pytestmark = pytest.mark.slow
PHOTOS = [corpus_photo(n).name for n in (1, 3, 5, 14, 20)]


def deliver_events(services, media_server, count: int) -> list[str]:
    client = create_app(services=services).test_client()
    ids = []
    for i in range(count):
        status = {"id": str(70_000 + i), "account": {"id": "1", "acct": "alice"}}
        body = webhook_body(status, [(str(60_000 + i), media_server.url(PHOTOS[i % 5]))])
        assert client.post("/webhooks/mastodon", data=body,
                           headers={"X-Hub-Signature": sign(body)}).status_code == 202
        ids.append(str(60_000 + i))
    return ids


def all_scanned(services, ids: list[str]) -> bool:
    return all((services.scans.scan_get(m) or {}).get("state") == "scanned" for m in ids)


def test_sqlite_locked_for_seconds_delays_but_loses_nothing(tmp_path, redis_url, media_server):
    db_file = tmp_path / "c.db"
    settings = make_settings(tmp_path, redis_url, f"sqlite:///{db_file}")
    services = Services.from_settings(settings)
    services.db.migrate()
    worker = spawn_worker(worker_env(settings, CONSENTRY_RETRY_INTERVALS="1,1,1,1,1"),
                          ["scan"], tmp_path / "worker.log")
    try:
        ids = deliver_events(services, media_server, 4)
        wait_for(lambda: all_scanned(services, ids), timeout=60)
        lock = sqlite3.connect(db_file, timeout=30)
        lock.execute("BEGIN EXCLUSIVE")  # nobody else may read or write now
        more = deliver_events(services, media_server, 8)  # Redis only: still accepted
        time.sleep(4)
        lock.rollback()
        lock.close()
        wait_for(lambda: all_scanned(services, more), timeout=60)
        assert queue("scan", services.redis).failed_job_registry.count == 0
    finally:
        stop(worker)
        services.db.dispose()


def test_postgres_connections_cut_during_the_run_are_retried(tmp_path, redis_url, postgres,
                                                             media_server):
    url = postgres.create_database("t_reliability_pg")
    settings = make_settings(tmp_path, redis_url, url)
    services = Services.from_settings(settings)
    services.db.migrate()
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    stopping = threading.Event()
    cuts = []

    def cutter() -> None:
        while not stopping.is_set():
            with admin.connect() as conn:
                n = conn.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND application_name <> 'keep'")).scalar()
            cuts.append(n)
            time.sleep(0.4)

    worker = spawn_worker(worker_env(settings, CONSENTRY_RETRY_INTERVALS="1,1,1,1,1,1,1,1"),
                          ["scan"], tmp_path / "worker.log")
    thread = threading.Thread(target=cutter, daemon=True)
    try:
        ids = deliver_events(services, media_server, 20)
        thread.start()
        time.sleep(6)
        stopping.set()
        thread.join(5)
        env = worker_env(settings, CONSENTRY_RETRY_INTERVALS="1,1,1,1,1,1,1,1")

        def supervised_scanned() -> bool:  # like `consentry up`: a dead worker is restarted
            nonlocal worker
            if worker.poll() is not None:
                worker = spawn_worker(env, ["scan"], tmp_path / "worker.log")
            return all_scanned(services, ids)

        wait_for(supervised_scanned, timeout=90, every=0.5)
        assert sum(cuts) > 0  # connections really were cut
        q = queue("scan", services.redis)
        wait_for(lambda: q.count == 0 and q.started_job_registry.count == 0, timeout=30)
        assert q.failed_job_registry.count == 0
    finally:
        stopping.set()
        stop(worker)
        admin.dispose()
        services.db.dispose()

"""The database handle: engine, sessions, migrations.

SQLite is the default (a file under the data dir, WAL mode and a busy timeout so the web
process and several workers can share it); PostgreSQL is chosen by URL. Schema changes happen
only through Alembic (``migrate()``), never implicitly in the app factory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from plugin.errors import ServiceUnavailable
from plugin.storage.checkpoints import BULK_AUTOCHECKPOINT, DEFAULT_AUTOCHECKPOINT, Checkpointer

MIGRATIONS = Path(__file__).with_name("migrations")


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            path = make_url(url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=5)
        self.engine: Engine = create_engine(url, **kwargs)
        self._checkpointer: Checkpointer | None = None
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            if make_url(url).database not in (None, "", ":memory:"):
                self._checkpointer = Checkpointer(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error.

        A database that is locked or unreachable surfaces as ``ServiceUnavailable`` so webhooks
        answer 503 (Mastodon retries) and jobs are retried rather than recorded as failures.
        """
        with self._unit_of_work(self._sessions()) as session:
            yield session

    @contextmanager
    def bulk_session(self) -> Iterator[Session]:
        """``session()`` for writes of thousands of rows (a page of a federation sync).

        On a SQLite file its commit leaves the WAL checkpoint to a background thread
        (``plugin.storage.checkpoints``); elsewhere it is ``session()``.
        """
        if self._checkpointer is None:
            with self.session() as session:
                yield session
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={BULK_AUTOCHECKPOINT}")
            conn.commit()  # end the autobegun no-op, so the session commits for real
            try:
                with self._unit_of_work(self._sessions(bind=conn)) as session:
                    yield session
            finally:
                conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={DEFAULT_AUTOCHECKPOINT}")
                conn.commit()
        self._checkpointer.nudge()

    @contextmanager
    def _unit_of_work(self, session: Session) -> Iterator[Session]:
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            raise ServiceUnavailable(f"database unavailable: {exc.orig}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def migrate(self) -> None:
        """Bring the schema to the newest revision of every Alembic branch (one per domain)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["engine"] = self.engine
        command.upgrade(config, "heads")

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except OperationalError:
            return False

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 64 MiB of page cache instead of 2: bank indexes are keyed by random digests, and a
    # million-row import slows to a crawl once they no longer fit.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()

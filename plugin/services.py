"""Services: the long-lived handles a process needs, built once from the settings.

The app factory and the worker entry point both build one ``Services``; tests build their own
against a temporary database and a real Redis. Building it opens no connection: Redis and
SQLAlchemy connect lazily on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from redis import Redis

from plugin.errors import ConfigError
from plugin.matching import BankMatcher
from plugin.metrics import Metrics
from plugin.policy import Policy, load_policy
from plugin.settings import Settings
from plugin.storage.actions import ActionStore, AuditStore
from plugin.storage.banks import BankStore
from plugin.storage.database import Database
from plugin.storage.kv import KeyValueStore
from plugin.storage.scans import ScanStore


def redis_from_url(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2,
                          health_check_interval=30)


@dataclass
class Services:
    settings: Settings
    db: Database

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        return cls(settings=settings, db=Database(settings.sqlalchemy_url))

    @cached_property
    def redis(self) -> Redis:
        if not self.settings.redis_url:
            raise ConfigError("CONSENTRY_REDIS_URL is not set; `consentry up` sets it for the "
                              "embedded Redis, or give a redis:// URL")
        return redis_from_url(self.settings.redis_url)

    @cached_property
    def scans(self) -> ScanStore:
        return ScanStore(self.db)

    @cached_property
    def banks(self) -> BankStore:
        return BankStore(self.db)

    @cached_property
    def actions(self) -> ActionStore:
        return ActionStore(self.db)

    @cached_property
    def audit(self) -> AuditStore:
        return AuditStore(self.db)

    @cached_property
    def kv(self) -> KeyValueStore:
        return KeyValueStore(self.db)

    @cached_property
    def policy(self) -> Policy:
        return load_policy(self.settings.policy)

    @cached_property
    def matcher(self) -> BankMatcher:
        """This process's bank matcher (loaded on first use, kept current by the change log)."""
        s = self.settings
        return BankMatcher(self.banks, max_distance=s.pdq_max_distance,
                           min_quality=s.pdq_min_quality, vpdq_query_pct=s.vpdq_query_match_pct,
                           vpdq_index_pct=s.vpdq_index_match_pct)

    @cached_property
    def metrics(self) -> Metrics:
        return Metrics(self.redis)

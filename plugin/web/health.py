"""Liveness, readiness and Prometheus metrics.

``/healthz`` says the process answers. ``/readyz`` says it can do its job: Redis and the
database answer and a worker has sent a heartbeat recently. ``/metrics`` renders the
service-wide counters kept in Redis (see ``plugin.metrics``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, jsonify
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError
from rq import Worker

from plugin.metrics import RedisCollector
from plugin.queueing import QUEUE_NAMES, queue
from plugin.web.context import services

bp = Blueprint("health", __name__)
WORKER_FRESH = timedelta(seconds=90)


@bp.get("/healthz")
def healthz():
    return jsonify({"ok": True})


@bp.get("/readyz")
def readyz():
    svc = services()
    checks: dict[str, object] = {}
    try:
        checks["redis"] = bool(svc.redis.ping())
        now = datetime.now(UTC)
        fresh = [w for w in Worker.all(connection=svc.redis)
                 if w.last_heartbeat and now - _aware(w.last_heartbeat) < WORKER_FRESH]
        checks["workers"] = len(fresh)
    except RedisError:
        checks["redis"], checks["workers"] = False, 0
    checks["database"] = svc.db.ping()
    ready = bool(checks["redis"] and checks["database"] and checks["workers"])
    return jsonify({"ready": ready, "checks": checks}), 200 if ready else 503


@bp.get("/metrics")
def metrics():
    svc = services()
    registry = CollectorRegistry()
    try:
        depths = {name: queue(name, svc.redis).count for name in QUEUE_NAMES}
        registry.register(RedisCollector(svc.redis, depths))
        body = generate_latest(registry)
    except RedisError:
        return Response("# redis unavailable\n", status=503, mimetype="text/plain")
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)

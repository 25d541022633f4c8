"""Queues and how the web side enqueues work.

Queues split by workload so CPU-heavy scans never starve actions or peer sync:
``classify`` (interactive requests a caller is waiting on, such as Misskey's; served first),
``scan`` (fetch, decode, hash, classify), ``act`` (calls to the instance API), ``sync``
(peers), ``default`` (periodic and maintenance). Jobs are referenced by import-path string,
so a web process never imports the worker modules (and their onnxruntime). Arguments and
results are JSON (RQ's JSON serializer): nothing is pickled.
"""

from __future__ import annotations

from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.serializers import JSONSerializer

QUEUE_NAMES = ("classify", "scan", "act", "sync", "default")

# Network failures: back off over ~2 days like Mastodon's own webhook retries.
NETWORK_RETRY = Retry(max=12, interval=[5, 15, 60, 120, 300, 600, 1800, 3600, 7200, 14400,
                                        43200, 86400])


def network_retry(intervals: tuple[int, ...] = ()) -> Retry:
    """``NETWORK_RETRY``, or one retry per interval given (``CONSENTRY_RETRY_INTERVALS``)."""
    return Retry(max=len(intervals), interval=list(intervals)) if intervals else NETWORK_RETRY


JOB_TTL = {"result_ttl": 7 * 86400, "failure_ttl": 30 * 86400}


_QUEUES: dict[tuple[int, str], Queue] = {}


def queue(name: str, connection: Redis) -> Queue:
    """The queue ``name`` on ``connection``, built once per connection.

    A ``Queue`` caches the Redis server version it asks for on first enqueue; rebuilding it per
    request would cost an extra round trip on the webhook's hot path.
    """
    key = (id(connection), name)
    found = _QUEUES.get(key)
    if found is None or found.connection is not connection:
        found = _QUEUES[key] = Queue(name, connection=connection, serializer=JSONSerializer)
    return found


def enqueue_unique(connection: Redis, queue_name: str, func: str, *args: Any,
                   job_id: str, timeout: int = 300, retry: Retry | None = NETWORK_RETRY) -> bool:
    """Enqueue once per ``job_id``. Returns False when a job with that id already exists.

    Raises redis errors when Redis is unreachable: the caller must not claim success then.
    """
    q = queue(queue_name, connection)
    job = q.create_job(func, args=args, job_id=job_id, timeout=timeout, retry=retry, **JOB_TTL)
    try:
        q.enqueue_job(job, unique=True)
    except DuplicateJobError:
        return False
    return True

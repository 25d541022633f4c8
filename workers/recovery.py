"""Give back the jobs of a worker that died (``kill -9``, OOM killer, power loss) at once.

RQ notices an abandoned job only when its entry in the ``StartedJobRegistry`` expires (the job
timeout plus a minute) *and* a worker next runs its registry maintenance (every ten minutes):
a scan whose worker was killed would wait up to a quarter of an hour. A worker that starts
(``consentry up`` restarts the one that died) therefore looks at every started job of its
queues first and requeues, at the front, those whose worker is certainly dead: its heartbeat
key has expired, or it ran on this host and its process is gone. A job whose worker may still
be alive on another host is left to RQ's own clean-up.

Taking the registry entry and requeueing the job are one Redis transaction guarded by ``WATCH``,
so two workers starting together never requeue one job twice, and no moment exists (and no
kill can land) where the job is in neither the registry nor the queue. Re-running a job is
safe because every job is idempotent (scan rows and actions are keyed, see ``workers.scan``).
"""

from __future__ import annotations

import logging
import os
import socket

from redis import Redis
from redis.exceptions import WatchError
from rq import Queue
from rq.executions import Execution
from rq.job import JobStatus

log = logging.getLogger(__name__)


def worker_is_dead(connection: Redis, worker_name: str) -> bool:
    hostname, pid = connection.hmget(f"rq:worker:{worker_name}", "hostname", "pid")
    if hostname is None and pid is None:
        return True  # its heartbeat key expired
    if hostname is None or pid is None or hostname.decode() != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def requeue_abandoned(queues: list[Queue]) -> list[str]:
    """Requeue the started jobs of dead workers; return their ids."""
    requeued = []
    for q in queues:
        registry = q.started_job_registry
        for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
            try:
                worker_name = Execution.fetch(execution_id, job_id, q.connection).worker_name
            except ValueError:  # the execution hash expired: RQ's clean-up owns it
                continue
            if not worker_is_dead(q.connection, worker_name):
                continue
            if _take_and_requeue(q, registry.key, f"{job_id}:{execution_id}", job_id):
                log.warning("requeued job %s of dead worker %s", job_id, worker_name)
                requeued.append(job_id)
    return requeued


def _take_and_requeue(q: Queue, registry_key: str, member: str, job_id: str) -> bool:
    """Move one registry entry back to the front of its queue in one transaction.

    The entry leaves the registry and the job enters the queue together (``WATCH``/``MULTI``):
    a worker killed in between would otherwise lose the job, and anyone looking in between
    would see it nowhere. ``WATCH`` also makes two recovering workers take it once only.
    """
    for _ in range(5):  # the registry changes as other jobs start and end: retry the race
        with q.connection.pipeline() as pipe:
            try:
                pipe.watch(registry_key)
                if pipe.zscore(registry_key, member) is None:
                    return False  # another worker took it first
                job = q.fetch_job(job_id)
                requeue = job is not None and job.get_status() == JobStatus.STARTED
                pipe.multi()
                pipe.zrem(registry_key, member)  # a finished or vanished job: just the entry
                if requeue:
                    q._enqueue_job(job, pipeline=pipe, at_front=True)
                pipe.execute()
                return requeue
            except WatchError:
                continue
    return False

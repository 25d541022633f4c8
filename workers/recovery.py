"""Give back the jobs of a worker that died (``kill -9``, OOM killer, power loss) at once.

A worker holds a job in one of two places, and a dead worker leaves it there:

* **a claim** in the queue's intermediate list (``workers.claiming``), from the moment the job
  leaves the queue until its execution is registered, a few round trips later;
* **an execution** in the ``StartedJobRegistry``, until the job ends.

RQ notices an abandoned execution only when its registry entry expires (the job timeout plus a
minute) *and* a worker next runs its registry maintenance (every ten minutes), and a stranded
claim only when two maintenance runs a minute apart both see it: a scan whose worker was killed
would wait up to a quarter of an hour, or be marked failed. A worker that starts (``consentry
up`` restarts the one that died) therefore looks at both places first and puts back, at the
front of its queue:

* every execution whose worker is certainly dead: its heartbeat key has expired, or it ran on
  this host and its process is gone (one whose worker may still be alive on another host is
  left to RQ's own clean-up);
* every claim that is still not registered ``STRANDED_GRACE_S`` after it was first seen (a
  live worker registers its claim within milliseconds; one that stalled longer runs the job
  twice, which is harmless, see below).

Taking the hold and requeueing the job are one Redis transaction guarded by ``WATCH``, so two
workers starting together never requeue one job twice, and no moment exists (and no kill can
land) where the job is held nowhere. Re-running a job is safe because every job is idempotent
(scan rows and actions are keyed, see ``workers.scan``).
"""

from __future__ import annotations

import logging
import os
import socket
import time

from redis import Redis
from redis.exceptions import WatchError
from rq import Queue
from rq.executions import Execution
from rq.job import JobStatus

log = logging.getLogger(__name__)

STRANDED_GRACE_S = 2.0
UNFINISHED = (JobStatus.QUEUED, JobStatus.STARTED)  # a job killed before RQ marks it started
                                                    # is still QUEUED, yet already registered


def requeue_abandoned(queues: list[Queue], grace_s: float = STRANDED_GRACE_S) -> list[str]:
    """Requeue the jobs dead workers held; return their ids."""
    requeued = [job_id for q in queues for job_id in _requeue_executions_of_dead_workers(q)]
    suspects = {q.name: _unregistered_claims(q) for q in queues}
    if any(suspects.values()):
        time.sleep(grace_s)
        for q in queues:
            for job_id in suspects[q.name] & _unregistered_claims(q):
                if _give_back(q, job_id, registry_member=None):
                    log.warning("requeued job %s stranded between queue and worker", job_id)
                    requeued.append(job_id)
    return requeued


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


def _requeue_executions_of_dead_workers(q: Queue) -> list[str]:
    requeued = []
    for job_id, execution_id in q.started_job_registry.get_job_and_execution_ids(cleanup=False):
        try:
            worker_name = Execution.fetch(execution_id, job_id, q.connection).worker_name
        except ValueError:  # the execution hash expired: RQ's clean-up owns it
            continue
        if not worker_is_dead(q.connection, worker_name):
            continue
        if _give_back(q, job_id, registry_member=f"{job_id}:{execution_id}"):
            log.warning("requeued job %s of dead worker %s", job_id, worker_name)
            requeued.append(job_id)
    return requeued


def _unregistered_claims(q: Queue) -> set[str]:
    registered = set(q.started_job_registry.get_job_ids(cleanup=False))
    claimed = {job_id.decode() for job_id in q.connection.lrange(q.intermediate_queue_key, 0, -1)}
    return claimed - registered


def _give_back(q: Queue, job_id: str, registry_member: str | None) -> bool:
    """Drop a dead worker's hold on a job and put the job back at the front of its queue.

    The hold is the registry entry ``registry_member`` or, when that is None, an unregistered
    claim. Dropping it (with the claim, which an execution killed before RQ removed it still
    has) and requeueing happen in one transaction; ``WATCH`` makes two recovering workers take
    it once only. Returns whether the job was requeued (a finished or vanished job is not).
    """
    registry_key = q.started_job_registry.key
    for _ in range(5):  # the registry changes as other jobs start and end: retry the race
        with q.connection.pipeline() as pipe:
            try:
                pipe.watch(registry_key, q.intermediate_queue_key)
                if registry_member is not None:
                    if pipe.zscore(registry_key, registry_member) is None:
                        return False  # another worker took it first
                elif job_id not in _unregistered_claims(q):
                    return False  # registered meanwhile, or taken by another worker
                job = q.fetch_job(job_id)
                requeue = job is not None and job.get_status() in UNFINISHED
                pipe.multi()
                if registry_member is not None:
                    pipe.zrem(registry_key, registry_member)
                pipe.lrem(q.intermediate_queue_key, 1, job_id)
                if requeue:
                    q._enqueue_job(job, pipeline=pipe, at_front=True)
                pipe.execute()
                return requeue
            except WatchError:
                continue
    return False

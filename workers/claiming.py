"""Take a job off a queue so that no instant exists in which a ``kill -9`` could lose it.

RQ pops a job from a worker's queues with ``BLPOP`` when the worker listens on several of them
(ours listen on all five by default). From that pop until the worker records the execution in
the ``StartedJobRegistry`` a few round trips later, the job id is in no Redis structure at
all: a worker killed then (OOM killer, ``kill -9``, power loss) loses the job for good, and no
recovery can find it. RQ closes that window only for single-queue workers, by moving the id
atomically into the queue's *intermediate* list (``LMOVE``) and removing it from there once
the execution is registered.

``ClaimingQueue`` does the same for any number of queues: one Lua script moves the first job
of the first non-empty queue, in priority order, into that queue's intermediate list. Redis has
no blocking move from several lists, so an idle worker blocks on its first queue (``BLMOVE``,
just as atomic) for at most ``POLL_S`` and then looks at all of them again: a job on another
queue of an idle worker waits at most that long. ``workers.recovery`` gives back what a dead
worker left in an intermediate list.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker
from rq.exceptions import DequeueTimeout
from rq.job import Job
from rq.utils import as_text

POLL_S = 0.2

# KEYS: queue, its intermediate list, queue, its intermediate list, ... in priority order.
_CLAIM = """
for i = 1, #KEYS, 2 do
  local job_id = redis.call('LMOVE', KEYS[i], KEYS[i + 1], 'LEFT', 'RIGHT')
  if job_id then return {KEYS[i], job_id} end
end
return false
"""


class ClaimingQueue(Queue):
    """A ``Queue`` whose ``dequeue_any`` claims atomically from any number of queues."""

    @classmethod
    def dequeue_any(cls, queues: Iterable[Queue], timeout: int | None, connection: Redis,
                    job_class: type[Job] | None = None, serializer: Any = None,
                    death_penalty_class: Any = None) -> tuple[Job, Queue] | None:
        queues = list(queues)
        keys = [k for q in queues for k in (q.key, q.intermediate_queue_key)]
        claim = connection.register_script(_CLAIM)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            claimed = claim(keys=keys)
            if claimed is None and deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DequeueTimeout(timeout, [q.key for q in queues])
                job_id = connection.blmove(keys[0], keys[1], min(POLL_S, left))
                claimed = None if job_id is None else [keys[0], job_id]
            if claimed is None:
                if deadline is None:
                    return None
                continue
            queue_key, job_id = map(as_text, claimed)
            found = cls._fetch_dequeued_job(connection, queue_key, job_id, job_class=job_class,
                                            serializer=serializer,
                                            death_penalty_class=death_penalty_class)
            if found is not None:
                return found
            connection.lrem(f"{queue_key}:intermediate", 1, job_id)  # its hash expired


class ClaimingWorker(SimpleWorker):
    """A ``SimpleWorker`` over ``ClaimingQueue``s: the claim leaves the intermediate list only
    once the execution is in the ``StartedJobRegistry`` (RQ does this for one queue only)."""

    queue_class = ClaimingQueue

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        super().prepare_job_execution(job, remove_from_intermediate_queue=True)

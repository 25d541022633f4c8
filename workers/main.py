"""The worker entry point: ``consentry worker [QUEUES]``.

Runs an RQ ``SimpleWorker`` (jobs execute in this process, so models and the bank index are
loaded once) with RQ's scheduler enabled (retries with back-off are scheduled jobs). It claims
jobs atomically (``workers.claiming``) and, on start, requeues what dead workers held
(``workers.recovery``): a ``kill -9`` at any instant loses no job.
Many workers on many hosts can share one Redis; each takes jobs from the queues it is given.
"""

from __future__ import annotations

import logging

from rq.serializers import JSONSerializer

from plugin.queueing import QUEUE_NAMES
from workers import context
from workers.claiming import ClaimingWorker
from workers.recovery import requeue_abandoned


def run_worker(queue_names: list[str] | None = None, *, burst: bool = False) -> bool:
    names = queue_names or list(QUEUE_NAMES)
    unknown = set(names) - set(QUEUE_NAMES)
    if unknown:
        raise SystemExit(f"unknown queue(s): {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(QUEUE_NAMES)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    svc = context.services()
    if "scan" in names:
        context.scan_context().matcher.warm()
    worker = ClaimingWorker(names, connection=svc.redis, serializer=JSONSerializer)
    requeue_abandoned(worker.queues)  # a worker that died mid-job: its jobs run again now
    return worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")

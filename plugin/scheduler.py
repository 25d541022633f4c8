"""Periodic jobs, enqueued by one small process (``consentry schedule``, started by ``up``).

Each tick enqueues a job whose id names its time slot, so two schedulers (say, after a
restart, or on two hosts) never enqueue the same slot twice. The jobs themselves run on
ordinary workers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from plugin.queueing import enqueue_unique
from plugin.services import Services
from plugin.settings import Settings


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    func: str
    queue: str
    every_s: int


def periodic_jobs(settings: Settings) -> list[PeriodicJob]:
    # Peer sync pulls each approved peer's change log (a no-op without peers); publishing
    # turns bank changes into signed records for peers (cheap when nothing changed).
    jobs = [PeriodicJob("federation-publish", "workers.sync.publish_job", "sync", 30),
            PeriodicJob("federation-sync", "workers.sync.sync_all_job", "sync", 60),
            # Retention of legal holds and decided review items (docs/compliance.md).
            PeriodicJob("retention-purge", "workers.maintenance.purge_expired_job", "default",
                        86_400)]
    if settings.instance_url and settings.instance_token:
        # Mastodon sends no webhook for deleted posts: look for them (docs/consent.md).
        jobs.append(PeriodicJob("consent-reconcile", "workers.consent.reconcile_deleted_job",
                                "default", 300))
    if settings.remote_timeline_interval_s > 0:
        jobs.append(PeriodicJob("remote-timeline", "workers.remote_timeline.poll_remote_timeline",
                                "default", settings.remote_timeline_interval_s))
    return jobs


def tick(services: Services, now: float | None = None) -> list[str]:
    """Enqueue every job whose slot has not been enqueued yet; return the job ids queued."""
    now = time.time() if now is None else now
    queued = []
    for job in periodic_jobs(services.settings):
        job_id = f"{job.name}-{int(now // job.every_s)}"
        if enqueue_unique(services.redis, job.queue, job.func, job_id=job_id, retry=None,
                          timeout=max(60, job.every_s * 2)):
            queued.append(job_id)
    return queued


def run_schedule(services: Services, *, resolution_s: float = 1.0) -> None:
    while True:
        tick(services)
        time.sleep(resolution_s)

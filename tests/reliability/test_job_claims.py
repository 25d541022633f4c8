"""The two instants a killed worker used to lose a job at, replayed on a real Redis.

``test_worker_kill`` kills workers at random and saw, once in a clean-clone CI run, one event
of 160 never finish: the kill had landed after the worker popped the job and before its
execution was registered (the job was in no Redis structure), or after it was registered and
before RQ marked it started (recovery saw a ``queued`` job and dropped the entry). Here each
instant is reached on purpose, by running a worker's steps one by one and stopping where the
kill would land.
"""

from __future__ import annotations

import threading
import time

import pytest
from redis import Redis
from rq import get_current_job
from rq.exceptions import DequeueTimeout
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from plugin.queueing import queue
from workers.claiming import ClaimingQueue, ClaimingWorker
from workers.recovery import requeue_abandoned

RUNS = "test:claims:runs"


def note_run(tag: str) -> None:
    get_current_job().connection.rpush(RUNS, tag)


@pytest.fixture
def redis(redis_url: str) -> Redis:
    connection = Redis.from_url(redis_url)
    yield connection
    connection.close()


def enqueue(redis: Redis, name: str, tag: str) -> str:
    return queue(name, redis).enqueue("tests.reliability.test_job_claims.note_run", tag,
                                      job_id=f"claims-{tag}").id


def run_burst(redis: Redis, names: list[str]) -> list[str]:
    ClaimingWorker(names, connection=redis, serializer=JSONSerializer).work(burst=True)
    return [tag.decode() for tag in redis.lrange(RUNS, 0, -1)]


def test_a_claim_takes_the_first_job_of_the_first_non_empty_queue_into_its_intermediate_list(
        redis):
    scan, act = queue("scan", redis), queue("act", redis)
    enqueue(redis, "act", "a")
    enqueue(redis, "scan", "s")
    job, from_queue = ClaimingQueue.dequeue_any([scan, act], None, redis,
                                                serializer=JSONSerializer)
    assert (job.id, from_queue.name) == ("claims-s", "scan")
    assert scan.count == 0 and redis.lrange(scan.intermediate_queue_key, 0, -1) == [b"claims-s"]
    job, from_queue = ClaimingQueue.dequeue_any([scan, act], None, redis,
                                                serializer=JSONSerializer)
    assert (job.id, from_queue.name) == ("claims-a", "act")
    assert ClaimingQueue.dequeue_any([scan, act], None, redis, serializer=JSONSerializer) is None


def test_an_idle_claim_wakes_for_a_job_on_any_of_its_queues_and_times_out_on_none(redis):
    scan, act = queue("scan", redis), queue("act", redis)
    with pytest.raises(DequeueTimeout):
        ClaimingQueue.dequeue_any([scan, act], 1, redis, serializer=JSONSerializer)
    later = threading.Timer(0.5, enqueue, (redis, "act", "late"))
    later.start()
    started = time.monotonic()
    job, from_queue = ClaimingQueue.dequeue_any([scan, act], 30, redis,
                                                serializer=JSONSerializer)
    later.join()
    assert (job.id, from_queue.name) == ("claims-late", "act")
    assert time.monotonic() - started < 30  # woke for it, did not wait out the timeout


def test_a_worker_killed_between_claim_and_registration_loses_nothing(redis):
    scan = queue("scan", redis)
    enqueue(redis, "scan", "stranded")
    ClaimingQueue.dequeue_any([scan], None, redis, serializer=JSONSerializer)
    # the worker dies here: the job is only in the intermediate list
    assert requeue_abandoned([scan], grace_s=0.2) == ["claims-stranded"]
    assert redis.llen(scan.intermediate_queue_key) == 0 and scan.job_ids == ["claims-stranded"]
    assert requeue_abandoned([scan], grace_s=0.2) == []  # given back once
    assert run_burst(redis, ["scan"]) == ["stranded"]
    assert redis.llen(scan.intermediate_queue_key) == 0 and scan.started_job_registry.count == 0


def test_a_worker_killed_between_registration_and_start_loses_nothing(redis):
    scan = queue("scan", redis)
    enqueue(redis, "scan", "registered")
    worker = ClaimingWorker(["scan"], connection=redis, serializer=JSONSerializer)
    worker.register_birth()
    job, _ = ClaimingQueue.dequeue_any([scan], None, redis, serializer=JSONSerializer)
    worker.prepare_execution(job)  # registered, not yet marked started
    assert job.get_status() == JobStatus.QUEUED
    assert requeue_abandoned([scan], grace_s=0.2) == []  # its worker is alive: hands off
    assert scan.started_job_registry.count == 1
    redis.delete(worker.key)  # the worker dies: its heartbeat key expires
    assert requeue_abandoned([scan], grace_s=0.2) == ["claims-registered"]
    assert scan.started_job_registry.count == 0 and scan.job_ids == ["claims-registered"]
    assert redis.llen(scan.intermediate_queue_key) == 0  # the claim went with the entry
    assert run_burst(redis, ["scan"]) == ["registered"]


def test_a_worker_runs_jobs_from_several_queues_and_leaves_no_claim_behind(redis):
    for name, tag in (("act", "1"), ("scan", "2"), ("sync", "3")):
        enqueue(redis, name, tag)
    assert run_burst(redis, ["scan", "act", "sync"]) == ["2", "1", "3"]
    for name in ("scan", "act", "sync"):
        assert redis.llen(queue(name, redis).intermediate_queue_key) == 0

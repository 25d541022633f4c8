"""Metrics shared by every process, kept in Redis and rendered for Prometheus.

Web and worker processes (on several hosts) all count into two Redis hashes, so ``/metrics``
on any web process shows the service-wide totals without Prometheus' multiprocess directory.
Latencies are kept as cumulative histogram buckets, the form Prometheus expects.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from redis import Redis
from redis.client import Pipeline

from plugin import redis_keys

LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
COUNTERS = {
    "webhooks_accepted": "Webhook deliveries accepted (202)",
    "webhooks_duplicate": "Webhook re-deliveries recognised as already queued",
    "webhooks_rejected": "Webhook deliveries refused (4xx)",
}


class Metrics:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def count(self, name: str, amount: int = 1, pipeline: Pipeline | None = None) -> None:
        (pipeline or self.redis).hincrby(redis_keys.METRIC_COUNTERS, name, amount)

    def observe_ms(self, name: str, value_ms: float) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for bound in LATENCY_BUCKETS_MS:
            if value_ms <= bound:
                pipe.hincrby(redis_keys.METRIC_HISTOGRAMS, f"{name}:le:{bound}", 1)
        pipe.hincrby(redis_keys.METRIC_HISTOGRAMS, f"{name}:count", 1)
        pipe.hincrbyfloat(redis_keys.METRIC_HISTOGRAMS, f"{name}:sum", value_ms / 1000)
        pipe.execute()

    def counters(self) -> dict[str, int]:
        raw = self.redis.hgetall(redis_keys.METRIC_COUNTERS)
        return {k.decode(): int(v) for k, v in raw.items()}


class RedisCollector(Collector):
    """Renders the shared counters, histograms and queue depths at scrape time."""

    def __init__(self, redis: Redis, queue_depths: dict[str, int] | None = None) -> None:
        self.redis = redis
        self.queue_depths = queue_depths or {}

    def collect(self) -> Iterator[object]:
        counters = Metrics(self.redis).counters()
        for name, doc in COUNTERS.items():
            yield CounterMetricFamily(f"consentry_{name}", doc, value=counters.get(name, 0))
        jobs = CounterMetricFamily("consentry_jobs", "Jobs finished, by kind and outcome",
                                   labels=["job", "outcome"])
        for key, value in sorted(counters.items()):
            if key.startswith("job:"):
                _, job, outcome = key.split(":", 2)
                jobs.add_metric([job, outcome], value)
        yield jobs
        depth = GaugeMetricFamily("consentry_queue_depth", "Jobs waiting, by queue",
                                  labels=["queue"])
        for queue, count in self.queue_depths.items():
            depth.add_metric([queue], count)
        yield depth
        raw = {k.decode(): float(v) for k, v in
               self.redis.hgetall(redis_keys.METRIC_HISTOGRAMS).items()}
        for name in sorted({k.split(":", 1)[0] for k in raw}):
            buckets = [(str(b / 1000), raw.get(f"{name}:le:{b}", 0.0))
                       for b in LATENCY_BUCKETS_MS]
            buckets.append(("+Inf", raw.get(f"{name}:count", 0.0)))
            yield HistogramMetricFamily(f"consentry_{name}_seconds", f"{name} latency",
                                        buckets=buckets, sum_value=raw.get(f"{name}:sum", 0.0))

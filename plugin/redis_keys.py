"""Every Redis key Consentry uses, built in one place (RQ's own keys aside)."""

PREFIX = "consentry:"

BANK_VERSION = PREFIX + "bank:version"
METRIC_COUNTERS = PREFIX + "metrics:counters"
METRIC_HISTOGRAMS = PREFIX + "metrics:histograms"
REMOTE_TIMELINE_LOCK = PREFIX + "lock:remote-timeline"


def event_job_id(body_sha256: str) -> str:
    """Deterministic job id for a webhook delivery: a re-delivery maps to the same job."""
    return f"event-{body_sha256}"


def action_job_id(plan_key: str) -> str:
    return f"act-{plan_key}"


def rate_limit(bucket: str, client: str) -> str:
    return f"{PREFIX}ratelimit:{bucket}:{client}"

"""Scan jobs: a thin shell over ``plugin.scanning`` and ``plugin.enforcement``."""

from __future__ import annotations

import hashlib

from plugin import redis_keys
from plugin.mastodon.payloads import parse_webhook
from plugin.queueing import enqueue_unique, network_retry
from plugin.scanning import scan_event
from workers import context


def process_event(body: str) -> dict[str, object]:
    """Scan the media of one accepted webhook delivery and queue the resulting actions.

    Idempotent: media with a final result are not scanned again, and actions are keyed by
    their target, so a re-delivery or a retry converges on the same state.
    """
    raw = body.encode()
    key = hashlib.sha256(raw).hexdigest()
    event = parse_webhook(raw)
    ctx = context.scan_context()
    svc = ctx.services
    svc.scans.event_record(key, event.event, event.object_id)
    planned = scan_event(event, ctx)
    action_ids = [svc.actions.action_plan(p.key, p.kind, p.params, p.evidence)[0]
                  for p in planned]
    if action_ids:
        plan_key = hashlib.sha256(",".join(map(str, action_ids)).encode()).hexdigest()[:32]
        enqueue_unique(svc.redis, "act", "workers.act.execute_actions", action_ids,
                       job_id=redis_keys.action_job_id(plan_key),
                       retry=network_retry(svc.settings.retry_intervals))
    svc.scans.event_done(key)
    svc.metrics.count("job:process_event:done")
    return {"event": event.event, "statuses": len(event.statuses), "actions": action_ids}



"""Periodic job: scan remote public media the instance has seen, beyond what webhooks carry.

Mastodon sends no webhook for remote posts. When ``CONSENTRY_REMOTE_TIMELINE_INTERVAL_S`` is
set (off by default), ``consentry up`` enqueues this job on that interval. It reads
``/api/v1/timelines/public?remote=true&only_media=true`` newest-first from the instance, pages
back to the stored cursor, then scans oldest-first and moves the cursor after each status, so
a crash resumes where it stopped and nothing is scanned twice (scans are per media id anyway).
"""

from __future__ import annotations

from typing import Any

from plugin import redis_keys
from plugin.enforcement import plan_actions
from plugin.federation.trust import apply_trust
from plugin.mastodon.payloads import statuses_in_status
from plugin.queueing import enqueue_unique
from plugin.scanning import scan_media
from workers import context

CURSOR_KEY = "remote_timeline"
PAGE = 40
MAX_PAGES = 25


def poll_remote_timeline() -> dict[str, Any]:
    ctx = context.scan_context()
    svc = ctx.services
    api = context.instance_client().api
    since = (svc.kv.kv_get(CURSOR_KEY) or {}).get("since_id")
    pending: list[dict[str, Any]] = []
    max_id = None
    for _ in range(MAX_PAGES):
        page = context.instance_client().call(
            "public timeline", api.timeline_public, remote=True, only_media=True, limit=PAGE,
            since_id=since, max_id=max_id)
        if not page:
            break
        pending.extend(dict(s) for s in page)
        max_id = page[-1]["id"]
        if since is None or len(page) < PAGE:
            break  # first run: start from now rather than the whole history
    scanned = 0
    for status in sorted(pending, key=lambda s: int(s["id"])):
        refs = statuses_in_status(_jsonable(status), via="timeline")
        for ref in refs:
            results = [scan_media(ref, media, ctx) for media in ref.media]
            scanned += len(results)
            planned = plan_actions(ref, apply_trust(results, svc), svc.policy)
            ids = [svc.actions.action_plan(p.key, p.kind, p.params, p.evidence)[0]
                   for p in planned]
            if ids:
                enqueue_unique(svc.redis, "act", "workers.act.execute_actions", ids,
                               job_id=redis_keys.action_job_id(f"timeline-{status['id']}"))
        svc.kv.kv_set(CURSOR_KEY, {"since_id": str(status["id"])})
    return {"statuses": len(pending), "media": scanned}


def _jsonable(value: Any) -> Any:
    """Mastodon.py returns attribute dicts with datetimes and int ids; make them plain JSON."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | bool | float) or value is None:
        return value
    if isinstance(value, int):
        return str(value)
    return str(value)

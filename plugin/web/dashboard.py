"""The admin's dashboard: the numbers worth a glance, as small server-drawn SVG charts.

Scans per day and matches by category (last 14 days, from ``media_scans``), the age of the
queue, peer sync lag (``fed_peers.last_sync_at`` when federation is set up), worker health
(RQ heartbeats) and queue depths. rq-dashboard is mounted at ``/review/rq/`` behind the same
sign-in (admins only), reading our JSON-serialised jobs.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, render_template, request
from redis.exceptions import RedisError
from rq import Worker

from plugin.errors import Forbidden
from plugin.queueing import QUEUE_NAMES, queue
from plugin.web.context import services
from plugin.web.moderator_auth import (
    current_moderator,
    require_moderator,
    review_store,
    secure_headers,
)

bp = Blueprint("dashboard", __name__, url_prefix="/review")
bp.after_request(secure_headers)
DAYS = 14


def numbers(now: datetime | None = None) -> dict[str, Any]:
    svc = services()
    now = now or datetime.now(UTC)
    store = review_store()
    since = (now - timedelta(days=DAYS - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    per_day: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    for scanned_at, matches in store.scans_per_day(since):
        per_day[scanned_at.date().isoformat()] += 1
        for category in {m["category"] for m in matches or []}:
            by_category[category] += 1
    days = [(since + timedelta(days=i)).date().isoformat() for i in range(DAYS)]
    open_items = store.items_list(limit=10_000)
    ages = sorted((now - i["created_at"]).total_seconds() / 3600 for i in open_items)
    return {
        "scans_per_day": [(d[5:], per_day.get(d, 0)) for d in days],
        "scans_today": per_day.get(days[-1], 0),
        "matches_by_category": sorted(by_category.items(), key=lambda kv: -kv[1]),
        "queue": {"open": len(ages), "oldest_h": ages[-1] if ages else 0.0,
                  "median_h": ages[len(ages) // 2] if ages else 0.0,
                  "overdue": sum(1 for i in open_items if i["due_at"] and i["due_at"] <= now)},
        "peers": _peers(svc, now),
        "workers": _workers(svc, now),
    }


def _peers(svc: Any, now: datetime) -> list[dict[str, Any]]:
    try:
        from plugin.storage.federation_store import PeerStore
        peers = PeerStore(svc.db).peer_list()
    except Exception:  # federation not set up here: nothing to show, not an error
        return []
    out = []
    for peer in peers:
        last = peer.get("last_sync_at")
        if isinstance(last, str):
            last = datetime.fromisoformat(last)
        lag = (now - last).total_seconds() / 60 if last else None
        out.append({"domain": peer.get("domain"), "state": peer.get("state"), "lag_min": lag})
    return out


def _workers(svc: Any, now: datetime) -> dict[str, Any]:
    try:
        workers = Worker.all(connection=svc.redis)
        depths = {name: queue(name, svc.redis).count for name in QUEUE_NAMES}
    except RedisError:
        return {"error": "redis unavailable", "workers": [], "depths": {}}
    rows = []
    for w in workers:
        beat = w.last_heartbeat
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=UTC)
        age = (now - beat).total_seconds() if beat else None
        rows.append({"name": w.name, "queues": ",".join(w.queue_names()),
                     "state": w.get_state(), "heartbeat_s": age,
                     "healthy": age is not None and age < 90})
    return {"workers": rows, "depths": depths}


def bars(series: list[tuple[str, int]], width: int = 260, height: int = 80) -> dict[str, Any]:
    """Geometry of a small bar chart; the template draws it as inline SVG."""
    top = max([v for _, v in series] + [1])
    step = width / max(len(series), 1)
    return {"width": width, "height": height + 12, "bars": [
        {"x": round(i * step + 1, 1), "w": round(step - 2, 1),
         "h": round(v / top * height, 1), "y": round(height - v / top * height, 1),
         "label": label, "value": v} for i, (label, v) in enumerate(series)]}


@bp.get("/dashboard")
@require_moderator()
def dashboard():
    data = numbers()
    return render_template("review/dashboard.html", n=data,
                           scans_chart=bars(data["scans_per_day"]),
                           category_chart=bars(data["matches_by_category"] or [("none", 0)]))


def mount_rq_dashboard(app: Flask) -> None:
    """rq-dashboard under /review/rq/, admins only; skipped when Redis is not configured."""
    settings = app.extensions["consentry"].settings
    if not settings.redis_url:
        return
    import rq_dashboard
    from rq.serializers import JSONSerializer
    from rq_dashboard.web import config, setup_rq_connection

    app.config.setdefault("RQ_DASHBOARD_REDIS_URL", settings.redis_url)
    config.serializer = JSONSerializer  # our jobs are JSON, never pickled
    setup_rq_connection(app)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix="/review/rq")

    @app.before_request
    def _admins_only() -> Any:
        if request.blueprint != "rq_dashboard":
            return None
        moderator = current_moderator()
        if moderator is None:
            from flask import redirect, url_for
            return redirect(url_for("moderator_auth.login", next="/review/rq/"))
        if moderator["role"] != "admin":
            raise Forbidden("the job dashboard is for admins")
        return None

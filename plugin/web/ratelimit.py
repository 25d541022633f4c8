"""Per-address rate limits for the public endpoints, counted in Redis.

Public endpoints (the takedown intake, the media gate, consent checks) answer anyone, so one
address must not be able to flood them. A fixed one-minute window per (bucket, address) is
enough here: ``SET NX EX`` and ``INCR`` go in one pipelined round trip, so the check costs the
endpoint one Redis call, and several web processes share the count.

If Redis cannot be reached the request passes (``fail_open``): the limiter protects capacity,
and refusing every caller during a Redis outage would be the outage it exists to prevent.
Behind a reverse proxy, ``request.remote_addr`` is the proxy's address unless the deployment
sets ``ProxyFix`` (docs/nginx.md); each bucket then limits the proxy as a whole.
"""

from __future__ import annotations

import logging

from flask import request
from redis import Redis
from redis.exceptions import RedisError

from plugin import redis_keys
from plugin.errors import RateLimited

log = logging.getLogger(__name__)
WINDOW_S = 60


def hit(redis: Redis, bucket: str, client: str, per_window: int, *,
        window_s: int = WINDOW_S) -> int:
    """Count one request; return the count in the current window. ``per_window`` 0: off."""
    if per_window <= 0:
        return 0
    key = redis_keys.rate_limit(bucket, client)
    with redis.pipeline(transaction=False) as pipe:
        pipe.set(key, 0, ex=window_s, nx=True)  # the window starts with its first request
        pipe.incr(key)  # (EXPIRE NX would need Redis 7; the embedded one is 6.2)
        _, count = pipe.execute()
    if count > per_window:
        raise RateLimited(f"more than {per_window} {bucket} requests a minute from this "
                          "address; try again in a minute", retry_after_s=window_s)
    return int(count)


def limit(redis: Redis, bucket: str, per_window: int, *, window_s: int = WINDOW_S,
          fail_open: bool = True) -> None:
    """``hit`` for the current Flask request's address."""
    try:
        hit(redis, bucket, request.remote_addr or "?", per_window, window_s=window_s)
    except RedisError as exc:
        if not fail_open:
            raise
        log.warning("rate limit %s not enforced: redis unavailable (%s)", bucket, exc)

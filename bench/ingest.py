"""Webhook ingest throughput and latency under a production WSGI server.

Starts the real thing — embedded Redis, SQLite, gunicorn (gthread workers) serving
``plugin.web.app:create_app()`` — then drives it with ``wrk`` (Debian package; installed if
missing) for a fixed time, with distinct signed ``status.created`` bodies built from a
recorded Mastodon payload (so every request is a new event that is really queued), and prints
req/s, p50 and p99 beside a baseline measured in the same run on the same server: ``GET
/healthz`` (the cost of the server and framework alone).

    .venv/bin/python bench/ingest.py [--seconds 15] [--connections 16] [--web-workers 2]

Targets (issue 2): ≥ 1,500 req/s and p99 ≤ 25 ms on 2 cores. The load generator shares the
2 cores with the server, which this figure includes.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from plugin.embedded_redis import EmbeddedRedis  # noqa: E402
from plugin.storage.database import Database  # noqa: E402

FIXTURE = REPO.parent / "shared" / "fixtures" / "mastodon" / \
    "status.created-image-1-focus-private-reply.json"
SECRET = "bench-secret"

LUA = r"""
local bodies, sigs, i = {}, {}, 0
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("offset", counter * 100000)
end
init = function(args)
  for line in io.lines(args[1]) do
    local sig, body = line:match("([^\t]+)\t(.*)")
    sigs[#sigs + 1] = sig; bodies[#bodies + 1] = body
  end
  i = (tonumber(wrk.thread:get("offset")) or 0) % #bodies
end
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/webhooks/mastodon",
    {["Content-Type"] = "application/json", ["X-Hub-Signature"] = sigs[i]}, bodies[i])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.3f %.3f %d\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""

LUA_GET = r"""
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.3f %.3f %d\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("wrk") or "wrk"


def bodies_file(directory: Path, count: int) -> Path:
    template = json.loads(FIXTURE.read_bytes())
    path = directory / "bodies.tsv"
    with path.open("w") as fh:
        for n in range(count):
            template["object"]["id"] = str(10**17 + n)
            body = json.dumps(template, separators=(",", ":"))
            sig = "sha256=" + hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
            fh.write(f"{sig}\t{body}\n")
    return path


def run_wrk(wrk: str, url: str, script: Path, seconds: int, connections: int,
            arg: str | None = None) -> dict[str, float]:
    cmd = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
           url]
    if arg:
        cmd += ["--", arg]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+)", out)
    if not match:
        raise RuntimeError(out)
    requests_, micros, p50, p99, errors = match.groups()
    return {"rps": int(requests_) / (int(micros) / 1e6), "p50": float(p50), "p99": float(p99),
            "errors": int(errors), "requests": int(requests_)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args()
    wrk = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="consentry-bench-"))
    redis = EmbeddedRedis(work / "redis")
    redis_url = redis.start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CONSENTRY_DATA_DIR": str(work), "CONSENTRY_REDIS_URL": redis_url,
           "CONSENTRY_MASTODON_WEBHOOK_SECRET": SECRET, "CONSENTRY_ADMIN_TOKEN": "bench",
           "CONSENTRY_DATABASE_URL": f"sqlite:///{work / 'consentry.db'}"}
    Database(env["CONSENTRY_DATABASE_URL"]).migrate()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
         str(args.web_workers), "--worker-class", "gthread", "--threads", "4", "--log-level",
         "warning", "plugin.web.app:create_app()"], env=env, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        post_lua, get_lua = work / "post.lua", work / "get.lua"
        post_lua.write_text(LUA)
        get_lua.write_text(LUA_GET)
        bodies = bodies_file(work, 200_000)
        baseline = run_wrk(wrk, f"{base}/healthz", get_lua, args.seconds, args.connections)
        ingest = run_wrk(wrk, base, post_lua, args.seconds, args.connections, str(bodies))
        from redis import Redis

        queued = Redis.from_url(redis_url).llen("rq:queue:scan")
        print(f"gunicorn gthread, {args.web_workers} workers × 4 threads, {args.connections} "
              f"connections, {args.seconds} s each, wrk on the same 2 cores")
        print(f"{'endpoint':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
        for name, r in (("GET /healthz (baseline)", baseline),
                        ("POST /webhooks/mastodon", ingest)):
            print(f"{name:<34}{r['rps']:>9.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['errors']:>8}")
        print(f"events queued in Redis: {queued}; answered 202: {ingest['requests']} (the "
              "difference: requests in flight when wrk stopped, queued but not counted)")
    finally:
        server.terminate()
        server.wait(10)
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

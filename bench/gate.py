"""Media gate latency under an open-loop load: p50/p99 at a fixed request rate.

Target (issue 8): p99 <= 2 ms at 2,000 req/s on 2 cores. Three servers answer the same
question for the same paths (70 % served, 30 % refused), each under gunicorn (gthread,
2 workers, keep-alive), one after the other in this run:

* ``ours: dedicated``  — ``plugin.web.gate:wsgi()``, the bare WSGI gate (one Redis round trip);
* ``ours: app route``  — ``GET /gate`` of the full Flask app;
* ``baseline: SQL``    — the same answer from one SQL query per request (SQLite), the design
  the issue rules out.

The load generator sends at fixed times (latency counts from the scheduled send, so a stall
is not hidden) from 4 processes with keep-alive connections. On a 2-core machine the
generator shares the cores with the server: the numbers are pessimistic for a real host
where nginx and the gate have their cores.

    .venv/bin/python bench/gate.py [--rate 2000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SQL_APP = '''
import sqlite3, threading, os
from plugin.review.gate_index import media_id_from_path
DB = os.environ["BENCH_SQLITE"]
local = threading.local()
def app(environ, start_response):
    conn = getattr(local, "conn", None) or sqlite3.connect(DB)
    local.conn = conn
    media_id = media_id_from_path(environ.get("HTTP_X_ORIGINAL_URI", ""))
    row = conn.execute("SELECT category FROM review_items WHERE media_id = ? AND state IN "
                       "('open', 'escalated', 'confirmed')", (media_id,)).fetchone()
    start_response("403 Forbidden" if row else "200 OK", [("Content-Length", "0")])
    return [b""]
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def path_for(media_id: int) -> str:
    digits = f"{media_id:018d}"
    part = "/".join(digits[i:i + 3] for i in range(0, 18, 3))
    return f"/system/media_attachments/files/{part}/original/x.jpg"


def client(port: int, rate: float, seconds: float, paths: list[str], start: float,
           out: mp.Queue) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    interval = 1.0 / rate
    latencies, errors, n = [], 0, int(rate * seconds)
    for i in range(n):
        scheduled = start + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            conn.request("GET", "/gate", headers={"X-Original-URI": paths[i % len(paths)]})
            response = conn.getresponse()
            response.read()
            if response.status not in (200, 403):
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        latencies.append(time.perf_counter() - scheduled)
    out.put((latencies, errors))


def measure(port: int, rate: float, seconds: float, paths: list[str]) -> dict[str, float]:
    procs, out = 4, mp.Queue()
    start = time.perf_counter() + 0.5
    workers = [mp.Process(target=client, args=(port, rate / procs, seconds,
                                               paths[k::procs], start + k / rate, out))
               for k in range(procs)]
    for w in workers:
        w.start()
    results = [out.get() for _ in workers]
    for w in workers:
        w.join()
    lat = sorted(x for r in results for x in r[0])
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
    return {"n": len(lat), "errors": sum(r[1] for r in results), "p50_ms": pick(0.50),
            "p99_ms": pick(0.99), "max_ms": lat[-1] * 1000}


def serve(app: str, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4",
         "--keep-alive", "30", "-b", f"127.0.0.1:{port}", "--log-level", "warning", app],
        env=env, cwd=str(ROOT))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/gate", headers={"X-Original-URI": "/"})
            conn.getresponse().read()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"{app} did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()

    from plugin.embedded_redis import EmbeddedRedis
    from plugin.review.gate_index import GateIndex
    from plugin.services import Services
    from plugin.settings import Settings
    from plugin.storage.review_store import ReviewStore

    tmp = Path(tempfile.mkdtemp(prefix="bench-gate-"))
    redis_server = EmbeddedRedis(tmp / "redis", appendonly=False)
    redis_url = redis_server.start()
    db_path = tmp / "consentry.db"
    settings = Settings(data_dir=tmp, redis_url=redis_url, database_url=f"sqlite:///{db_path}",
                        admin_token="bench")
    svc = Services.from_settings(settings)
    svc.db.migrate()
    store = ReviewStore(svc.db)
    refused = list(range(1, 100_001, 3))  # ~33k refused media among 100k
    with svc.db.session() as s:
        from plugin.storage.review_models import ReviewItem
        s.add_all([ReviewItem(key=f"media:{m}", source="scan", category="csam",
                              media_id=str(m), findings=[], labels=[]) for m in refused])
    count = GateIndex(svc.redis).rebuild(store.refused_media())
    rng = random.Random(8)
    paths = [path_for(rng.randrange(1, 100_001)) for _ in range(20_000)]
    env = {**os.environ, "CONSENTRY_DATA_DIR": str(tmp), "CONSENTRY_REDIS_URL": redis_url,
           "CONSENTRY_DATABASE_URL": f"sqlite:///{db_path}", "CONSENTRY_ADMIN_TOKEN": "bench",
           "BENCH_SQLITE": str(db_path), "PYTHONPATH": str(ROOT)}
    (tmp / "bench_sql_gate.py").write_text(SQL_APP)
    env["PYTHONPATH"] += os.pathsep + str(tmp)
    print(f"gate bench: {count} refused media in the index, {args.rate:.0f} req/s for "
          f"{args.seconds:.0f} s, {os.cpu_count()} CPUs shared by server and load generator")
    print(f"{'server':<22}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, app in (("ours: dedicated", "plugin.web.gate:wsgi()"),
                      ("ours: app route", "plugin.web.app:create_app()"),
                      ("baseline: SQL", "bench_sql_gate:app")):
        port = free_port()
        proc = serve(app, env, port)
        try:
            measure(port, args.rate, 1.0, paths)  # warm-up
            r = measure(port, args.rate, args.seconds, paths)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        print(f"{name:<22}{r['n']:>9}{r['errors']:>8}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
              f"{r['max_ms']:>9.1f}")
    redis_server.stop()


if __name__ == "__main__":
    main()

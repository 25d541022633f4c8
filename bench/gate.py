"""Media gate latency under an open-loop load: p50/p99 at a fixed request rate.

Target (issue 8): p99 <= 2 ms at 2,000 req/s on 2 cores. The servers answer the same
question for the same paths (about a third refused, from 33k refused media), one after the
other in this run:

* ``floor: nginx return 200`` — nginx answering without asking anyone: what the load
  generator and the machine cost on their own; a row above it is the server's doing;
* ``ours: gate process``  — ``consentry gate`` (``plugin.gate``): asyncio, answers from its
  in-process copy of the index; the run also times how long a new refusal takes to reach it
  (one every 50 ms, while the load runs);
* ``ours: nginx+gate proc.`` — the deployment of docs/nginx.md: media requests to nginx, whose
  ``auth_request`` asks the gate process over keep-alive (files absent: served paths 404);
* ``ours: WSGI gunicorn`` — ``plugin.web.gate:wsgi()`` (one Redis round trip per request) and
  ``ours: app route`` (``GET /gate`` of the Flask app), each under gunicorn (gthread, 2x4);
* ``baseline: SQL``    — the same answer from one SQL query per request (SQLite), the design
  the issue rules out.

The load generator (``generate``) is one process that sends at fixed times over keep-alive
connections; latency counts from the scheduled send, so a stall is not hidden. On a 2-core
machine it shares the cores with the server: the numbers are pessimistic for a host where
nginx and the gate have their own cores.

    flock /tmp/consentry-bench.lock .venv/bin/python bench/gate.py [--rate 2000] \
        [--seconds 10] [--conns 16] [--only "ours: gate process,baseline: SQL"]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
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


def _response_end(buffer: bytes) -> int:
    """Length of the first complete HTTP response in ``buffer``, or -1."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return -1
    length = 0
    for line in buffer[:head_end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    total = head_end + 4 + length
    return total if len(buffer) >= total else -1


def generate(port: int, rate: float, seconds: float, requests: list[bytes], conns: int,
             out: mp.Queue) -> None:
    """Open loop: request i is due at start + i/rate, whatever happened before it.

    One process, non-blocking keep-alive sockets and ``select`` (microsecond timeouts; the
    event loops' epoll rounds to milliseconds): a due request goes out on an idle connection
    or waits for one, and its latency counts from when it was due, so a stall of the server
    or of this generator shows up rather than slowing the offered load.
    """
    def connect() -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return sock

    idle = deque(connect() for _ in range(conns))
    in_flight: dict[socket.socket, tuple[float, bytes]] = {}  # socket -> (due, request)
    buffers: dict[socket.socket, bytes] = {}
    n, interval = int(rate * seconds), 1.0 / rate
    latencies, statuses, errors, reconnects, sent, waiting = [], Counter(), 0, 0, 0, deque()
    start = time.perf_counter() + 0.2
    give_up = start + seconds + 30

    def send(sock: socket.socket, due: float, request: bytes) -> None:
        sock.sendall(request)
        in_flight[sock] = (due, request)
        buffers[sock] = b""

    while len(latencies) + errors < n and time.perf_counter() < give_up:
        now = time.perf_counter()
        while sent < n and start + sent * interval <= now:
            waiting.append(sent)
            sent += 1
        while waiting and idle:
            i = waiting.popleft()
            try:
                send(idle.popleft(), start + i * interval, requests[i % len(requests)])
            except OSError:
                errors += 1
        timeout = max(0.0, start + sent * interval - time.perf_counter()) if sent < n else 0.1
        readable, _, _ = select.select(list(in_flight), [], [], timeout)
        for sock in readable:
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            due, request = in_flight[sock]
            if not chunk:
                # The server closed a keep-alive connection (nginx: after keepalive_requests);
                # send again on a new one, as nginx and browsers do; the wait still counts.
                del in_flight[sock]
                sock.close()
                reconnects += 1
                try:
                    send(connect(), due, request)
                except OSError:
                    errors += 1
                continue
            buffers[sock] += chunk
            end = _response_end(buffers[sock])
            if end < 0:
                continue
            latencies.append(time.perf_counter() - due)
            head = buffers[sock][:end]
            statuses[int(head[9:12])] += 1
            del in_flight[sock]
            if b"connection: close" in head.lower():
                sock.close()
                reconnects += 1
                idle.append(connect())
            else:
                idle.append(sock)
    errors = n - len(latencies)  # never answered (send failed, or still waiting at give_up)
    for sock in [*idle, *in_flight]:
        sock.close()
    out.put((latencies, dict(statuses), errors, reconnects))


def measure(port: int, rate: float, seconds: float, requests: list[bytes],
            conns: int = 32) -> dict[str, float]:
    out: mp.Queue = mp.Queue()
    proc = mp.Process(target=generate, args=(port, rate, seconds, requests, conns, out))
    proc.start()
    latencies, statuses, errors, reconnects = out.get()
    proc.join()
    lat = sorted(latencies)
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
    refused = sum(c for s, c in statuses.items() if s in (403, 451))
    errors += sum(c for s, c in statuses.items() if s not in (200, 403, 404, 451))
    return {"n": len(lat), "errors": errors, "reconnects": reconnects,
            "refused": refused / max(1, len(lat)),
            "p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": lat[-1] * 1000}


NGINX_FLOOR = """
worker_processes 1;
daemon off;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {run}/body;
  proxy_temp_path {run}/proxy;
  fastcgi_temp_path {run}/fastcgi;
  uwsgi_temp_path {run}/uwsgi;
  scgi_temp_path {run}/scgi;
  server {{ listen 127.0.0.1:{port}; location / {{ return 200; }} }}
}}
"""


def wait_listening(proc: subprocess.Popen[bytes], port: int, what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            time.sleep(0.3)  # a gunicorn master listens before its workers are up
            return
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    raise RuntimeError(f"{what} did not start")


def gunicorn(app: str, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4",
         "--keep-alive", "30", "-b", f"127.0.0.1:{port}", "--log-level", "warning", app],
        env=env, cwd=str(ROOT))


def gate_process(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "plugin.cli", "gate"], cwd=str(ROOT),
                            env={**env, "CONSENTRY_GATE_BIND": f"127.0.0.1:{port}"},
                            stderr=subprocess.DEVNULL)


def nginx(conf: str, run_dir: Path) -> subprocess.Popen[bytes]:
    from tests.review.nginx import NGINX

    (run_dir / "nginx.conf").write_text(conf)
    return subprocess.Popen([NGINX, "-c", str(run_dir / "nginx.conf"), "-p", str(run_dir),
                             "-e", str(run_dir / "error.log")])


def propagation(redis_url: str, port: int, stop: threading.Event, lags: list[float]) -> None:
    """While the load runs: refuse a fresh media id every 50 ms and time until the gate
    process refuses it (polled on a connection of its own every 0.5 ms)."""
    from plugin.review.gate_index import GateIndex
    from plugin.services import redis_from_url

    index = GateIndex(redis_from_url(redis_url))
    conn = socket.create_connection(("127.0.0.1", port))
    media_id = 900_000_000
    while not stop.wait(0.05):
        media_id += 1
        ask = (f"GET /gate HTTP/1.1\r\nX-Original-URI: {path_for(media_id)}\r\n\r\n").encode()
        started = time.perf_counter()
        index.refuse(str(media_id), None, "spam")
        while True:
            conn.sendall(ask)
            answer = b""
            while _response_end(answer) < 0:
                answer += conn.recv(4096)
            if answer.startswith(b"HTTP/1.1 403"):
                lags.append(time.perf_counter() - started)
                break
            time.sleep(0.0005)
        index.allow(str(media_id), None)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--conns", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--only", help="comma-separated row names to run (default: all)")
    args = parser.parse_args()

    from plugin.embedded_redis import EmbeddedRedis
    from plugin.review.gate_index import GateIndex
    from plugin.services import Services
    from plugin.settings import Settings
    from plugin.storage.review_store import ReviewStore
    from tests.review.nginx import CONFIG as NGINX_GATE

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
    to_gate = [f"GET /gate HTTP/1.1\r\nHost: gate\r\nX-Original-URI: {p}\r\n\r\n".encode()
               for p in paths]
    to_nginx = [f"GET {p} HTTP/1.1\r\nHost: media\r\n\r\n".encode() for p in paths]
    env = {**os.environ, "CONSENTRY_DATA_DIR": str(tmp), "CONSENTRY_REDIS_URL": redis_url,
           "CONSENTRY_DATABASE_URL": f"sqlite:///{db_path}", "CONSENTRY_ADMIN_TOKEN": "bench",
           "BENCH_SQLITE": str(db_path), "PYTHONPATH": str(ROOT)}
    (tmp / "bench_sql_gate.py").write_text(SQL_APP)
    env["PYTHONPATH"] += os.pathsep + str(tmp)
    user = "user root;" if os.geteuid() == 0 else ""

    def with_nginx(conf: str, gate_port: int | None):
        def start(port: int) -> list[subprocess.Popen[bytes]]:
            run_dir = Path(tempfile.mkdtemp(dir=tmp))
            procs = []
            if gate_port:
                procs.append(gate_process(env, gate_port))
                wait_listening(procs[0], gate_port, "consentry gate")
                conf_text = conf.format(user=user, run=run_dir, gate_port=gate_port, port=port,
                                        root=tmp / "public")
            else:
                conf_text = conf.format(run=run_dir, port=port)
            return [*procs, nginx(conf_text, run_dir)]
        return start

    rows = [  # name, start(port) -> processes, requests, measure propagation
        ("floor: nginx return 200", with_nginx(NGINX_FLOOR, None), to_gate, False),
        ("ours: gate process", lambda port: [gate_process(env, port)], to_gate, True),
        ("ours: nginx+gate proc.", with_nginx(NGINX_GATE, free_port()), to_nginx, False),
        ("ours: WSGI gunicorn", lambda port: [gunicorn("plugin.web.gate:wsgi()", env, port)],
         to_gate, False),
        ("ours: app route", lambda port: [gunicorn("plugin.web.app:create_app()", env, port)],
         to_gate, False),
        ("baseline: SQL", lambda port: [gunicorn("bench_sql_gate:app", env, port)], to_gate,
         False),
    ]
    only = {n.strip() for n in args.only.split(",")} if args.only else None
    print(f"gate bench: {count} refused media in the index, {args.rate:.0f} req/s for "
          f"{args.seconds:.0f} s, {args.conns} keep-alive connections, {os.cpu_count()} CPUs "
          f"shared by server and load generator; load {os.getloadavg()[0]:.2f}")
    print(f"{'server':<25}{'requests':>9}{'errors':>7}{'reconn':>7}{'refused':>8}"
          f"{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}")
    for name, start, requests, timed in rows:
        if only and name not in only:
            continue
        port = free_port()
        procs = start(port)
        lags: list[float] = []
        try:
            wait_listening(procs[-1], port, name)
            measure(port, args.rate, 1.0, requests, args.conns)  # warm-up
            stop = threading.Event()
            watcher = threading.Thread(target=propagation, args=(redis_url, port, stop, lags))
            if timed:
                watcher.start()
            r = measure(port, args.rate, args.seconds, requests, args.conns)
            stop.set()
            if timed:
                watcher.join()
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(timeout=10)
        print(f"{name:<25}{r['n']:>9}{r['errors']:>7}{r['reconnects']:>7}{r['refused']:>8.1%}{r['p50_ms']:>8.2f}"
              f"{r['p99_ms']:>8.2f}{r['max_ms']:>8.1f}")
        if lags:
            lags.sort()
            print(f"{'':<25}refusal reaches the gate process: {len(lags)} changes under this "
                  f"load, p50 {lags[len(lags) // 2] * 1000:.2f} ms, max {lags[-1] * 1000:.2f} ms")
    print(f"load after the run: {os.getloadavg()[0]:.2f}")
    redis_server.stop()


if __name__ == "__main__":
    main()

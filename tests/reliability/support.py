"""Real processes and misbehaving servers for the fault tests.

* ``spawn_worker``: a ``consentry worker`` process (the same entry point ``consentry up`` runs),
  in its own process group so a test can ``kill -9`` it like the OOM killer would.
* ``SlowMediaServer``: serves files on loopback after a delay, so a scan is reliably "in the
  middle" (fetching) when the worker dies.
* ``FlakyProxy``: a reverse proxy in front of mastodon-mock that can be switched to refuse
  connections, answer 503 or 429, and records every request it forwarded, in order.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]





def worker_env(settings: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTRY_")}
    env.update({"CONSENTRY_DATA_DIR": str(settings.data_dir),
                "CONSENTRY_REDIS_URL": settings.redis_url,
                "CONSENTRY_DATABASE_URL": settings.sqlalchemy_url,
                "CONSENTRY_MEDIA_ALLOW_PRIVATE": "1", "CONSENTRY_CLASSIFIERS": "0",
                "CONSENTRY_ADMIN_TOKEN": settings.admin_token or "",
                "CONSENTRY_MASTODON_WEBHOOK_SECRET": settings.mastodon_webhook_secret or "",
                "PYTHONUNBUFFERED": "1"})
    if settings.instance_url:
        env["CONSENTRY_INSTANCE_URL"] = settings.instance_url
        env["CONSENTRY_INSTANCE_TOKEN"] = settings.instance_token or ""
    env.update(extra)
    return env


def spawn_worker(env: dict[str, str], queues: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "plugin.cli", "worker", *queues],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)





class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SlowMediaServer(_Server):
    """``/media/<name>`` from ``root`` after ``delay_s``; ``hits`` counts requests per name."""

    def __init__(self, root: Path, delay_s: float) -> None:
        self.root, self.delay_s = root, delay_s
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.removeprefix("/media/").split("?")[0]
                with outer.lock:
                    outer.hits[name] = outer.hits.get(name, 0) + 1
                time.sleep(outer.delay_s)
                file = outer.root / name
                body = file.read_bytes() if file.is_file() else b"missing"
                self.send_response(200 if file.is_file() else 404)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

        super().__init__(Handler)

    def url(self, name: str) -> str:
        return f"{self.base_url}/media/{name}"


class FlakyProxy(_Server):
    """Forwards to ``upstream`` while ``mode == "up"``; otherwise fails the way it is told.

    Modes: ``up``, ``503``, ``429`` (with ``Retry-After: 1``), ``reset`` (closes the
    connection without answering). ``forwarded`` lists (method, path, body) of requests that
    reached the upstream; ``refused`` counts the others.
    """

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.mode = "up"
        self.forwarded: list[tuple[str, str, bytes]] = []
        self.refused = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                mode = outer.mode
                if mode != "up":
                    with outer.lock:
                        outer.refused += 1
                    if mode == "reset":
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.send_response(int(mode))
                    if mode == "429":
                        self.send_header("Retry-After", "1")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                    return
                conn = http.client.HTTPConnection(*outer.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                if answer.status < 300:
                    with outer.lock:
                        outer.forwarded.append((self.command, self.path, body))
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        super().__init__(Handler)

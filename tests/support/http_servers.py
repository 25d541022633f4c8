"""A real HTTP media server on loopback, with a few misbehaving routes for the fetcher."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class MediaServer:
    """Serves files from ``root`` under ``/media/<name>`` plus test routes:

    ``/status/<code>``, ``/redirect?to=<url>``, ``/slow`` (drips bytes), ``/endless``,
    ``/html``. ``hits`` counts requests per path.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                if path.startswith("/media/"):
                    file = server.root / path.removeprefix("/media/")
                    if not file.is_file():
                        return self._send(404, b"not found", "text/plain")
                    return self._send(200, file.read_bytes(), "image/jpeg")
                if path.startswith("/status/"):
                    return self._send(int(path.rsplit("/", 1)[1]), b"x", "text/plain")
                if path == "/redirect":
                    target = self.path.split("to=", 1)[1]
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if path == "/html":
                    return self._send(200, b"<html><body>hi</body></html>", "image/jpeg")
                if path in ("/slow", "/endless"):
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.end_headers()
                    chunk = b"\xff\xd8\xff" + b"\0" * 65533
                    for _ in range(100000):
                        try:
                            self.wfile.write(chunk if path == "/endless" else b"\0")
                            self.wfile.flush()
                        except OSError:
                            return None
                        if path == "/slow":
                            time.sleep(0.2)
                    return None
                return self._send(404, b"no route", "text/plain")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/media/{name}"

    def start(self) -> MediaServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

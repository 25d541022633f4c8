"""``consentry gate``: nginx's ``auth_request`` target as a small asyncio HTTP/1.1 server.

The issue's budget is p99 <= 2 ms at 2,000 requests a second on 2 cores. A WSGI server spends
most of that on its own machinery (a thread hand-off, the environ, a Redis round trip), so
this process answers from the in-process copy of the refusal index (``mirror``) in the event
loop itself: parse the request head, look two keys up in a dict, write a response prepared at
start-up. Keep-alive and pipelining follow HTTP/1.1; nginx keeps a pool of connections open
(``keepalive`` in the upstream, docs/nginx.md), so there is no connect per request either.

The answers are those of ``plugin.web.gate``: 200 serve; 403 refuse with the intended status
in ``X-Consentry-Status`` (451 for legal categories); 401 without the gate token when
``CONSENTRY_GATE_TOKEN`` is set; 429 over ``CONSENTRY_GATE_RATE_PER_MIN`` from one address
(counted in this process, not in Redis: the gate makes no Redis call per request); and when
the copy has not heard from Redis lately, serve (``CONSENTRY_GATE_FAIL_OPEN``, from the last
copy, which still refuses what it knew) or refuse everything with ``X-Consentry-Status: 503``.
``GET /healthz`` answers 200 once the copy is loaded and fresh.

Only request heads are read: a body (the gate never needs one) is skipped by its
``Content-Length``; chunked bodies and heads over 16 KiB close the connection.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
import time
from urllib.parse import parse_qs

from plugin.gate.mirror import IndexMirror
from plugin.review.gate_index import verdict
from plugin.settings import Settings
from plugin.web.ratelimit import WINDOW_S

log = logging.getLogger(__name__)
MAX_HEAD = 16 * 1024
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests",
            431: "Request Header Fields Too Large", 503: "Service Unavailable"}


def _response(status: int, headers: dict[str, str] | None = None, body: bytes = b"",
              close: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS[status]}", f"Content-Length: {len(body)}",
             "Cache-Control: no-store"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Gate:
    """The decision, HTTP aside: (path, token, peer) -> response bytes (keep-alive form)."""

    def __init__(self, mirror: IndexMirror, *, token: str | None, fail_open: bool,
                 rate_per_min: int = 0) -> None:
        self.mirror, self.fail_open = mirror, fail_open
        self.token = token.encode() if token else None
        self.rate_per_min = rate_per_min
        self._window = 0
        self._counts: dict[str, int] = {}
        self.answers = {(s, x): _response(s, {"X-Consentry-Status": x})
                        for s, x in ((200, "200"), (403, "451"), (403, "403"), (403, "503"))}
        self.unauthorized = _response(401)
        self.too_many = _response(429, {"Retry-After": str(WINDOW_S)})

    def answer(self, uri: str, token: bytes | None, peer: str) -> bytes:
        if self.token and not hmac.compare_digest(token or b"", self.token):
            return self.unauthorized
        if self.rate_per_min and self._over_limit(peer):
            return self.too_many
        if not self.mirror.fresh():
            if not self.fail_open:
                return self.answers[403, "503"]
            if not self.mirror.loaded.is_set():
                return self.answers[200, "200"]
        return self.answers[verdict(self.mirror.reason(uri))]

    def _over_limit(self, peer: str) -> bool:
        window = int(time.monotonic() // WINDOW_S)
        if window != self._window:
            self._window, self._counts = window, {}
        count = self._counts[peer] = self._counts.get(peer, 0) + 1
        return count > self.rate_per_min


class GateProtocol(asyncio.Protocol):
    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.buffer = b""
        self.skip = 0  # body bytes of the current request still to discard
        self.transport: asyncio.Transport | None = None
        self.peer = "?"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) else "?"

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        out: list[bytes] = []
        while buffer:
            if self.skip:
                dropped = min(self.skip, len(buffer))
                self.skip -= dropped
                buffer = buffer[dropped:]
                continue
            end = buffer.find(b"\r\n\r\n")
            if end > MAX_HEAD or (end < 0 and len(buffer) > MAX_HEAD):
                return self._finish(out, _response(431, close=True))
            if end < 0:
                break
            head, buffer = buffer[:end], buffer[end + 4:]
            response, keep_alive = self._handle(head)
            out.append(response)
            if not keep_alive:
                return self._finish(out, b"")
        self.buffer = buffer
        if out:
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])

    def _finish(self, out: list[bytes], last: bytes) -> None:
        self.transport.write(b"".join(out) + last)
        self.transport.close()
        self.buffer = b""

    def _handle(self, head: bytes) -> tuple[bytes, bool]:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            return _response(400, close=True), False
        method, target, version = parts
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                return _response(400, close=True), False
            headers[name.strip().lower()] = value.strip()
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            return _response(400, close=True), False
        length = headers.get(b"content-length", b"0") or b"0"
        if not length.isdigit():
            return _response(400, close=True), False
        self.skip = int(length)
        connection = headers.get(b"connection", b"").lower()
        keep_alive = (b"close" not in connection if version == b"HTTP/1.1"
                      else b"keep-alive" in connection)
        path, _, query = target.partition(b"?")
        if method not in (b"GET", b"HEAD"):
            response = _response(405, {"Allow": "GET, HEAD"})
        elif path == b"/gate":
            uri = headers.get(b"x-original-uri")
            if uri is None and query:
                uri = (parse_qs(query.decode("latin-1")).get("uri") or [""])[0].encode("latin-1")
            response = self.gate.answer((uri or b"").decode("latin-1"),
                                        headers.get(b"x-consentry-gate-token"), self.peer)
        elif path == b"/healthz":
            ready = self.gate.mirror.fresh()
            body = b"ok\n" if ready else b"index not loaded or stale\n"
            response = _response(200 if ready else 503, {"Content-Type": "text/plain"}, body)
            if method == b"HEAD":
                response = response[:-len(body)]
        else:
            response = _response(404)
        if not keep_alive:
            response = response.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
        return response, keep_alive


async def serve(gate: Gate, host: str, port: int, *, ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: GateProtocol(gate), host, port, backlog=1024,
                                      reuse_address=True)
    stop = stop or asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (RuntimeError, ValueError):  # not the main thread
            pass
    log.info("gate listening on %s:%d", host, port)
    if ready:
        ready.set()
    async with server:
        await stop.wait()


def run(settings: Settings) -> int:
    """The ``consentry gate`` process: start the follower, wait for a first copy, listen."""
    from plugin.services import Services, redis_from_url
    from plugin.storage.review_store import ReviewStore

    logging.basicConfig(level=logging.INFO, format="%(asctime)s gate %(levelname)s %(message)s")
    svc = Services.from_settings(settings)
    redis = redis_from_url(settings.redis_url or "")
    mirror = IndexMirror(redis, lambda: ReviewStore(svc.db).refused_media()).start()
    if not mirror.loaded.wait(10):
        log.warning("gate: no copy of the refusal index after 10 s; answering per "
                    "CONSENTRY_GATE_FAIL_OPEN until there is one")
    gate = Gate(mirror, token=settings.gate_token, fail_open=settings.gate_fail_open,
                rate_per_min=settings.gate_rate_per_min)
    host, _, port = settings.gate_bind.rpartition(":")
    try:
        asyncio.run(serve(gate, host.strip("[]"), int(port)))
    finally:
        mirror.stop()
    return 0

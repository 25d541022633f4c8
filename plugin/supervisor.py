"""``consentry up``: the whole service on one host with no configuration.

Starts the embedded Redis (unless ``CONSENTRY_REDIS_URL`` is given), migrates the database,
then runs the web server (gunicorn), the media gate and the workers as child processes,
restarting any that dies, until SIGINT/SIGTERM. First start generates the webhook secret and
the admin token and prints what the admin pastes into Mastodon.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from plugin.embedded_redis import EmbeddedRedis
from plugin.mastodon.payloads import SUPPORTED_EVENTS
from plugin.scheduler import periodic_jobs
from plugin.settings import Settings, ensure_secrets
from plugin.storage.database import Database


def banner(settings: Settings, created: list[str]) -> str:
    lines = [
        "Consentry is running.",
        "",
        "In Mastodon: Preferences → Administration → Webhooks → Add endpoint",
        f"  Endpoint URL : {settings.base_url}/webhooks/mastodon",
        f"  Events       : {', '.join(SUPPORTED_EVENTS)}",
        f"  Secret       : {settings.mastodon_webhook_secret}",
        "",
        f"Admin API      : {settings.base_url}/api/v1/  "
        f"(Authorization: Bearer {settings.admin_token})",
        f"Health         : {settings.base_url}/readyz   Metrics: {settings.base_url}/metrics",
        f"Media gate     : http://{settings.gate_bind}/gate  (nginx auth_request, "
        "docs/nginx.md)" if settings.gate_bind else "Media gate     : off",
        f"Data directory : {settings.data_dir.resolve()}  (secrets in consentry.toml)",
    ]
    if created:
        lines.append(f"Generated on this first start: {', '.join(created)}.")
    if not settings.instance_url or not settings.instance_token:
        lines.append("Acting on the instance is off until CONSENTRY_INSTANCE_URL and "
                     "CONSENTRY_INSTANCE_TOKEN are set (see docs/mastodon.md).")
    return "\n".join(lines)


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["CONSENTRY_DATA_DIR"] = str(settings.data_dir.resolve())
    env["CONSENTRY_REDIS_URL"] = settings.redis_url or ""
    env["PYTHONUNBUFFERED"] = "1"
    return env


def web_command(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--bind", settings.bind,
            "--workers", str(settings.web_workers), "--worker-class", "gthread",
            "--threads", "4", "--access-logfile", "-", "--log-level", "warning",
            "plugin.web.app:create_app()"]


def worker_command(queues: list[str] | None = None) -> list[str]:
    return [sys.executable, "-m", "plugin.cli", "worker", *(queues or [])]


class Supervisor:
    def __init__(self, commands: dict[str, list[str]], env: dict[str, str]) -> None:
        self.commands = commands
        self.env = env
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False

    def start(self, name: str) -> None:
        self.children[name] = subprocess.Popen(self.commands[name], env=self.env)

    def run(self) -> int:
        for name in self.commands:
            self.start(name)
        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        signal.signal(signal.SIGINT, lambda *_: self.stop())
        while not self.stopping:
            for name, child in list(self.children.items()):
                if child.poll() is not None and not self.stopping:
                    print(f"consentry: {name} exited with {child.returncode}; restarting",
                          file=sys.stderr)
                    time.sleep(1)
                    self.start(name)
            time.sleep(0.5)
        return 0

    def stop(self) -> None:
        self.stopping = True
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        for child in self.children.values():
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()


def up(settings: Settings) -> int:
    settings, created = ensure_secrets(settings)
    embedded = None
    if not settings.redis_url:
        embedded = EmbeddedRedis(Path(settings.data_dir) / "redis")
        settings = dataclasses.replace(settings, redis_url=embedded.start())
    try:
        Database(settings.sqlalchemy_url).migrate()
        commands = {"web": web_command(settings)}
        for i in range(settings.workers):
            commands[f"worker-{i + 1}"] = worker_command()
        if settings.gate_bind:
            commands["gate"] = [sys.executable, "-m", "plugin.cli", "gate"]
        if settings.instance_url and settings.instance_token:
            commands["watch"] = [sys.executable, "-m", "plugin.cli", "watch"]
        if periodic_jobs(settings):
            commands["schedule"] = [sys.executable, "-m", "plugin.cli", "schedule"]
        print(banner(settings, created), flush=True)
        return Supervisor(commands, child_env(settings)).run()
    finally:
        if embedded:
            embedded.stop()

"""Settings: the one place that reads the environment.

Every setting has a ``CONSENTRY_`` environment name, a type and a default. Values come from, in
order of precedence: the environment, then the config file (``$CONSENTRY_DATA_DIR/consentry.toml``
or ``CONSENTRY_CONFIG``), then the default. A bad value stops start-up with a ``ConfigError``
naming the setting. Nothing here runs at import time: call ``Settings.from_env()``.

The file is also where ``consentry up`` stores the secrets it generates on first start (webhook
secret, admin token), so a restart keeps them.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin.errors import ConfigError

SECRET_SETTINGS = ("admin_token", "mastodon_webhook_secret", "instance_token", "misskey_api_key",
                   "session_secret", "legal_hold_key", "gate_token")


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected a boolean (1/0, true/false), got {raw!r}")


def _parse_bind(raw: str) -> str:
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {raw!r}")
    return raw


def _parse_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError(f"expected an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(f"expected a positive integer, got {raw!r}")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(f"expected an integer >= 0, got {raw!r}")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError(f"expected a positive number, got {raw!r}")
    return value


def _intervals(raw: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in raw.replace(" ", "").split(",") if part)
    if any(v < 0 for v in values):
        raise ValueError(f"expected comma-separated seconds >= 0, got {raw!r}")
    return values


def _percent(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"expected a percentage 0..100, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Typed configuration. Field ``x`` is read from ``CONSENTRY_X``."""

    data_dir: Path = Path("var")
    bind: str = "127.0.0.1:8400"
    public_url: str | None = None
    redis_url: str | None = None
    database_url: str | None = None
    admin_token: str | None = None
    mastodon_webhook_secret: str | None = None
    instance_url: str | None = None
    instance_token: str | None = None
    media_allow_private: bool = False
    policy: Path | None = None
    misskey_api_key: str | None = None
    misskey_max_images: int = 16
    misskey_max_image_bytes: int = 5 * 1024 * 1024
    misskey_timeout_s: float = 20.0
    webhook_max_bytes: int = 1_048_576
    media_max_bytes: int = 40 * 1024 * 1024
    media_max_pixels: int = 50_000_000
    media_timeout_s: float = 20.0
    pdq_max_distance: int = 31
    pdq_min_quality: int = 50
    workers: int = 1
    web_workers: int = 2
    remote_timeline_interval_s: int = 0
    derivatives: bool = True
    classifiers: bool = True
    models_dir: Path | None = None
    # Moderators' side (plugin/review): sessions, legal hold, media gate, retention.
    session_secret: str | None = None
    session_hours: int = 8
    legal_hold_key: str | None = None
    legal_hold_media: bool = False
    gate_token: str | None = None
    gate_fail_open: bool = True
    review_retention_days: int = 180
    federation_domain: str | None = None
    federation_key_file: Path | None = None
    allow_insecure_peers: bool = False
    federation_trust_forwarded: bool = False
    federation_record_ttl_s: int = 0
    federation_quorum: int = 2
    federation_flood_per_hour: int = 10_000
    federation_popular_limit: int = 20
    federation_rate_per_min: int = 3_000
    federation_allowlist_bank: str = "allowlist"
    federation_verify_workers: int = 0
    # Records per transaction while a peer's backfill is written (plugin/federation/page_writer).
    federation_backfill_batch: int = 50_000
    # Video and animated media (plugin/video, docs/video.md).
    video_max_bytes: int = 100 * 1024 * 1024
    video_max_duration_s: float = 600.0
    video_max_frames: int = 120
    video_decode_timeout_s: float = 120.0
    vpdq_query_match_pct: float = 80.0
    vpdq_index_match_pct: float = 0.0
    # Back-off of jobs that failed transiently (seconds, comma-separated); empty: ~2 days.
    retry_intervals: tuple[int, ...] = ()
    # Per-address requests a minute to /gate (plugin/web/ratelimit.py); 0: off (docs/nginx.md).
    gate_rate_per_min: int = 0
    # Where `consentry gate` (plugin/gate, the dedicated media gate) listens; empty: not run.
    gate_bind: str = "127.0.0.1:8401"
    # Consent (plugin/consent, docs/consent.md).
    consent_default: str = "not_allowed"
    consent_oauth_url: str | None = None
    consent_check_rate_per_min: int = 60
    consent_ai_accounts: str = ""
    # Posting applications known to edit pictures with AI (comma-separated names, as
    # Mastodon shows them in a status's ``application``).
    consent_ai_apps: str = ""
    consent_ai_labels: str = "ai_generated"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'consentry.db').resolve()}"

    @property
    def models_path(self) -> Path:
        """Where model manifests live: ``CONSENTRY_MODELS_DIR`` or the repository's models/."""
        return self.models_dir or Path(__file__).resolve().parents[1] / "models"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.bind}"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, config_file: Path | None = None
    ) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("CONSENTRY_DATA_DIR", "var"))
        path = config_file or Path(env.get("CONSENTRY_CONFIG", data_dir / "consentry.toml"))
        file_values = _read_config_file(path)
        values: dict[str, Any] = {"data_dir": data_dir}
        for f in dataclasses.fields(cls):
            if f.name in ("data_dir", "extra"):
                continue
            env_name = f"CONSENTRY_{f.name.upper()}"
            raw = env.get(env_name)
            source = env_name
            if raw is None and f.name in file_values:
                raw, source = str(file_values[f.name]), f"{f.name} in {path}"
            if raw is None:
                continue
            try:
                values[f.name] = _PARSERS.get(f.name, _parse_for_type(f.type))(raw)
            except ValueError as exc:
                raise ConfigError(f"bad value for {source}: {exc}") from None
        return cls(**values)

    def redacted(self) -> dict[str, Any]:
        """Settings as a dict with secrets masked, for logs and `consentry up`'s banner."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = "***" if f.name in SECRET_SETTINGS and value else value
        return out


def _parse_for_type(type_name: object) -> Callable[[str], Any]:
    text = str(type_name)
    if "bool" in text:
        return _parse_bool
    if "Path" in text:
        return Path
    if "float" in text:
        return _positive_float
    if "int" in text:
        return _non_negative_int
    return str


_PARSERS: dict[str, Callable[[str], Any]] = {
    "bind": _parse_bind,
    "gate_bind": lambda raw: _parse_bind(raw) if raw else "",
    "public_url": _parse_url,
    "instance_url": _parse_url,
    "workers": _positive_int,
    "web_workers": _positive_int,
    "webhook_max_bytes": _positive_int,
    "media_max_bytes": _positive_int,
    "media_max_pixels": _positive_int,
    "video_max_bytes": _positive_int,
    "video_max_frames": _positive_int,
    "vpdq_query_match_pct": _percent,
    "vpdq_index_match_pct": _percent,
    "retry_intervals": _intervals,
    "consent_default": lambda raw: _one_of(raw, ("not_allowed", "allowed", "ask")),
    "consent_oauth_url": _parse_url,
}


def _one_of(raw: str, allowed: tuple[str, ...]) -> str:
    if raw not in allowed:
        raise ValueError(f"expected one of {', '.join(allowed)}, got {raw!r}")
    return raw


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return {k.lower(): v for k, v in data.items() if not isinstance(v, dict)}


def ensure_secrets(settings: Settings) -> tuple[Settings, list[str]]:
    """Generate the webhook secret and admin token on first start and persist them.

    Returns the settings with secrets filled in and the names of those that were new. Secrets
    given in the environment are never written to disk.
    """
    path = settings.data_dir / "consentry.toml"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    stored = _read_config_file(path)
    created = []
    for name in ("mastodon_webhook_secret", "admin_token"):
        if getattr(settings, name) is None and name not in stored:
            stored[name] = secrets.token_urlsafe(32)
            created.append(name)
    if created:
        lines = [f'{key} = "{value}"' for key, value in stored.items() if isinstance(value, str)]
        lines += [f"{key} = {str(value).lower()}" for key, value in stored.items()
                  if isinstance(value, bool)]
        lines += [f"{key} = {value}" for key, value in stored.items()
                  if isinstance(value, int | float) and not isinstance(value, bool)]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("# Written by `consentry up`. Environment variables override these.\n")
            fh.write("\n".join(lines) + "\n")
    fills = {n: stored[n] for n in ("mastodon_webhook_secret", "admin_token")
             if getattr(settings, n) is None}
    return dataclasses.replace(settings, **fills), created

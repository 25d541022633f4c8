"""Shared fixtures: deterministic keys, a fixed clock, record factories, three instances."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from plugin.federation.identity import derive_key_id, key_url
from tests.federation.instances import Instance

NOW = 1_750_000_000.0  # 2025-06-15T15:06:40Z
DOMAIN = "a.example"
OTHER = "b.example"

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
KEY_ID = derive_key_id(KEY.public_key())
OTHER_KEY_ID = derive_key_id(OTHER_KEY.public_key())
KEY_URL = key_url(DOMAIN, KEY_ID)
OTHER_KEY_URL = key_url(OTHER, OTHER_KEY_ID)

PUBLISHED: dict[str, Ed25519PublicKey] = {
    KEY_URL: KEY.public_key(),
    OTHER_KEY_URL: OTHER_KEY.public_key(),
}


def resolve(key_ref: str) -> Ed25519PublicKey | None:
    return PUBLISHED.get(key_ref)


def clock() -> float:
    return NOW


def hash_record(**overrides: Any) -> dict[str, Any]:
    record = {
        "type": "hash",
        "id": "0197736c-7800-7abc-8def-0123456789ab",
        "issuer": DOMAIN,
        "issued": "2025-06-15T15:00:00Z",
        "expires": "2026-06-15T15:00:00Z",
        "hash_type": "pdq",
        "hash_value": "f" * 64,
        "category": "ncii",
        "labels": ["nudity", "ai_generated"],
        "recommended_action": "reject",
        "opinion": "true_positive",
        "human_reviewed": True,
        "published": "2025-06-15T14:00:00Z",
    }
    record.update(overrides)
    return record


def consent_record(**overrides: Any) -> dict[str, Any]:
    record = {
        "type": "consent",
        "id": "0197736c-7800-7abc-8def-0123456789ac",
        "issuer": DOMAIN,
        "issued": "2025-06-15T15:00:00Z",
        "expires": None,
        "actor": f"https://{DOMAIN}/users/alice",
        "policy": {"ai_edit": "not_allowed"},
        "protected_hashes": [{"hash_type": "pdq", "hash_value": "0" * 64}],
        "stated": "2025-06-15T14:59:00Z",
    }
    record.update(overrides)
    return record


@pytest.fixture
def fixed_clock():
    return clock


@pytest.fixture
def trio(tmp_path: Path, redis_url: str) -> Iterator[tuple[Instance, Instance, Instance]]:
    """Three real instances (own database, Redis db and key), stopped afterwards."""
    a, b, c = (Instance(n, tmp_path, redis_url, i + 1) for i, n in enumerate("abc"))
    yield a, b, c
    for inst in (a, b, c):
        inst.stop()

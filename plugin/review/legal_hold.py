"""Legal hold: the evidence of a confirmed CSAM match, sealed for one year.

The US REPORT Act (2024) extended the preservation duty of 18 U.S.C. 2258A(h) to one year.
When a moderator confirms a CSAM match we seal the hashes, the finding, the post and account
metadata and the decision history — and the media bytes if ``CONSENTRY_LEGAL_HOLD_MEDIA`` is
on — with AES-256-GCM, the item id as associated data (a sealed blob cannot be swapped onto
another item). The key is ``CONSENTRY_LEGAL_HOLD_KEY`` or, when unset, a key file created
once in the data directory (mode 0600): back it up, without it the evidence is unreadable.
Every opening is written to the audit log with who and why.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from plugin.errors import ConfigError
from plugin.settings import Settings
from plugin.storage.actions import AuditStore
from plugin.storage.models import utcnow
from plugin.storage.review_store import ReviewStore

HOLD_PERIOD = timedelta(days=365)
HELD_CATEGORIES = ("csam",)
KEY_FILE = "legal-hold.key"


def hold_key(settings: Settings) -> bytes:
    raw = settings.legal_hold_key
    if raw is None:
        path = Path(settings.data_dir) / KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
        raw = path.read_text().strip()
    try:
        key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except ValueError:
        raise ConfigError("CONSENTRY_LEGAL_HOLD_KEY must be 32 bytes, base64url") from None
    if len(key) != 32:
        raise ConfigError("CONSENTRY_LEGAL_HOLD_KEY must be 32 bytes, base64url")
    return key


def seal(store: ReviewStore, settings: Settings, item_id: int, category: str,
         evidence: dict[str, Any], now: datetime | None = None) -> bool:
    """Seal evidence for an item once; returns False if it was already held."""
    nonce = secrets.token_bytes(12)
    plaintext = json.dumps(evidence, sort_keys=True, default=str).encode()
    ciphertext = AESGCM(hold_key(settings)).encrypt(nonce, plaintext, f"item:{item_id}".encode())
    now = now or utcnow()
    return store.hold_put(item_id, category, now, now + HOLD_PERIOD, nonce, ciphertext)


def open_hold(store: ReviewStore, audit: AuditStore, settings: Settings, item_id: int, *,
              accessor: str, purpose: str) -> dict[str, Any]:
    """Decrypt held evidence; the access is counted and audited before anything is shown."""
    held = store.hold_get(item_id)
    audit.audit_append(actor=accessor, action="legal_hold.access", subject=f"review:{item_id}",
                       outcome="done", detail={"purpose": purpose, "access": held["accesses"]})
    plaintext = AESGCM(hold_key(settings)).decrypt(held["nonce"], held["ciphertext"],
                                                   f"item:{item_id}".encode())
    return {"evidence": json.loads(plaintext), "expires_at": held["expires_at"].isoformat(),
            "accesses": held["accesses"]}

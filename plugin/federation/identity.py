"""The instance's service identity: an Ed25519 key pair that signs records and requests.

Why a file and not the database: the private key must survive database restores to other
hosts without leaking into dumps, and it must be readable by every web/worker process.  The
key is generated on first use and written atomically with mode 0600 (PEM, unencrypted PKCS#8);
a concurrent first use by two processes ends with both using the same key (``os.link`` refuses
to overwrite).  Loading refuses a group/world-accessible key file, as ssh does.

Rotation replaces the private key and keeps the *public* half of the old one, marked retired,
in ``<key file>.retired.json`` so peers can still verify records signed before the rotation.
Old private keys are never kept.

``key_id`` is ``"ed25519-" + base64url(SHA-256(raw 32-byte public key))``: stable, derived
from the key alone, and safe in URL fragments and structured-field strings.  On the wire a key
is referenced by its key URL ``https://<domain>/.well-known/consentry#<key_id>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .encoding import b64url_decode, b64url_encode, multibase_decode, multibase_encode
from .errors import IdentityError
from .schema import is_valid_domain
from .timestamps import format_rfc3339

__all__ = [
    "KEY_ID_PREFIX",
    "PublicKeyInfo",
    "ServiceIdentity",
    "derive_key_id",
    "key_url",
    "parse_key_url",
    "public_key_b64url",
    "public_key_from_b64url",
    "public_key_from_multibase",
    "public_key_multibase",
]

KEY_ID_PREFIX = "ed25519-"
_MULTICODEC_ED25519_PUB = b"\xed\x01"
_WELL_KNOWN = "/.well-known/consentry"


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def derive_key_id(public_key: Ed25519PublicKey) -> str:
    """``ed25519-`` + unpadded base64url of SHA-256 over the raw public key."""
    return KEY_ID_PREFIX + b64url_encode(hashlib.sha256(_raw(public_key)).digest())


def public_key_b64url(public_key: Ed25519PublicKey) -> str:
    """Raw 32-byte public key as unpadded base64url."""
    return b64url_encode(_raw(public_key))


def public_key_from_b64url(text: str) -> Ed25519PublicKey:
    raw = b64url_decode(text)
    if len(raw) != 32:
        raise ValueError("Ed25519 public key must be 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_multibase(public_key: Ed25519PublicKey) -> str:
    """Multikey form: multibase base58btc of multicodec ``ed25519-pub`` + raw key (``z6Mk...``)."""
    return multibase_encode(_MULTICODEC_ED25519_PUB + _raw(public_key))


def public_key_from_multibase(text: str) -> Ed25519PublicKey:
    data = multibase_decode(text)
    if len(data) != 34 or not data.startswith(_MULTICODEC_ED25519_PUB):
        raise ValueError("not a multibase ed25519-pub key")
    return Ed25519PublicKey.from_public_bytes(data[2:])


def key_url(domain: str, key_id: str) -> str:
    """The verification-method / ``keyid`` URL for *key_id* published by *domain*."""
    return f"https://{domain}{_WELL_KNOWN}#{key_id}"


@lru_cache(maxsize=256)
def parse_key_url(url: str) -> tuple[str, str]:
    """Split a key URL into ``(domain, key_id)``; raise ``ValueError`` if it is not one.

    Cached: every record of a feed page names one of its issuer's few keys.
    """
    prefix, sep, key_id = url.partition("#")
    if not sep or not prefix.startswith("https://") or not prefix.endswith(_WELL_KNOWN):
        raise ValueError(f"not a Consentry key URL: {url!r}")
    domain = prefix[len("https://") : -len(_WELL_KNOWN)]
    if not is_valid_domain(domain) or not key_id.startswith(KEY_ID_PREFIX):
        raise ValueError(f"not a Consentry key URL: {url!r}")
    return domain, key_id


@dataclass(frozen=True)
class PublicKeyInfo:
    key_id: str
    public_key: Ed25519PublicKey
    status: Literal["active", "retired"]
    retired: str | None = None  # RFC 3339, when it was rotated out

    def to_json(self, domain: str) -> dict[str, Any]:
        """The entry for this key in the ``/.well-known/consentry`` ``keys`` array."""
        return {
            "id": key_url(domain, self.key_id),
            "key_id": self.key_id,
            "type": "Multikey",
            "publicKeyMultibase": public_key_multibase(self.public_key),
            "publicKeyBase64url": public_key_b64url(self.public_key),
            "status": self.status,
            "retired": self.retired,
        }


def _write_private(path: Path, data: bytes, *, replace: bool) -> bool:
    """Write *data* atomically with mode 0600; return False if *path* appeared meanwhile."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # fails if another process created the key first
        except FileExistsError:
            return False
        return True
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class ServiceIdentity:
    """Lazily loaded (or created) key pair stored at *path*, plus retired public keys."""

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.retired_path = self.path.with_name(self.path.name + ".retired.json")
        self._clock = clock
        self._lock = threading.RLock()
        self._key: Ed25519PrivateKey | None = None

    # -- loading -------------------------------------------------------------------------
    def _load_or_create(self) -> Ed25519PrivateKey:
        with self._lock:
            if self._key is None:
                if not self.path.exists():
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    _write_private(self.path, _pem(Ed25519PrivateKey.generate()), replace=False)
                self._key = self._read_key()
            return self._key

    def _read_key(self) -> Ed25519PrivateKey:
        try:
            mode = self.path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise IdentityError(f"{self.path} is accessible by group/others; chmod 600 it")
            key = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise IdentityError(f"cannot load identity key {self.path}: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise IdentityError(f"{self.path} does not hold an Ed25519 key")
        return key

    def reload(self) -> None:
        """Forget the cached key (e.g. after another process rotated it)."""
        with self._lock:
            self._key = None

    # -- accessors -----------------------------------------------------------------------
    @property
    def private_key(self) -> Ed25519PrivateKey:
        return self._load_or_create()

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return derive_key_id(self.public_key)

    def _retired(self) -> list[PublicKeyInfo]:
        if not self.retired_path.exists():
            return []
        try:
            entries = json.loads(self.retired_path.read_text("utf-8"))["retired"]
            return [
                PublicKeyInfo(
                    e["key_id"], public_key_from_b64url(e["public_key"]), "retired", e["retired"]
                )
                for e in entries
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IdentityError(f"cannot read {self.retired_path}: {exc}") from exc

    def public_keys(self) -> list[PublicKeyInfo]:
        """The active key first, then retired keys, newest retirement first."""
        active = PublicKeyInfo(self.key_id, self.public_key, "active")
        retired = [k for k in self._retired() if k.key_id != active.key_id]
        return [active, *reversed(retired)]

    def find_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        """Our own active or retired public key with *key_id*, if any."""
        return next((k.public_key for k in self.public_keys() if k.key_id == key_id), None)

    # -- rotation ------------------------------------------------------------------------
    def rotate(self) -> PublicKeyInfo:
        """Replace the key pair; keep the old public key as retired; return the new key."""
        with self._lock:
            old = self.private_key.public_key()
            entries = [
                {
                    "key_id": k.key_id,
                    "public_key": public_key_b64url(k.public_key),
                    "retired": k.retired,
                }
                for k in self._retired()
            ]
            entries.append(
                {
                    "key_id": derive_key_id(old),
                    "public_key": public_key_b64url(old),
                    "retired": format_rfc3339(self._clock()),
                }
            )
            # Retired list first: a crash between the writes leaves the old key listed as both
            # active and retired (harmless), never a signed record with an unlisted key.
            body = json.dumps({"retired": entries}, indent=2).encode("utf-8")
            _write_private(self.retired_path, body, replace=True)
            new = Ed25519PrivateKey.generate()
            _write_private(self.path, _pem(new), replace=True)
            self._key = new
            return PublicKeyInfo(derive_key_id(new.public_key()), new.public_key(), "active")


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )

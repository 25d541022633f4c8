"""Service identity: creation, permissions, loading, rotation, key formats."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from plugin.federation.errors import IdentityError
from plugin.federation.identity import (
    ServiceIdentity,
    derive_key_id,
    key_url,
    parse_key_url,
    public_key_b64url,
    public_key_from_b64url,
    public_key_from_multibase,
    public_key_multibase,
)

from .conftest import KEY, clock


def test_created_on_first_use_with_0600_pkcs8(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "identity.pem"
    ident = ServiceIdentity(path)
    assert not path.exists()  # lazy
    key_id = ident.key_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
    assert isinstance(serialization.load_pem_private_key(pem, None), Ed25519PrivateKey)
    assert [p.name for p in path.parent.iterdir()] == ["identity.pem"]  # no temp files left
    # Loaded, not regenerated, afterwards.
    assert ServiceIdentity(path).key_id == key_id


def test_umask_does_not_widen_permissions(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        _ = ServiceIdentity(tmp_path / "id.pem").private_key
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "id.pem").stat().st_mode) == 0o600


def test_refuses_group_readable_key(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    _ = ServiceIdentity(path).private_key
    path.chmod(0o640)
    with pytest.raises(IdentityError, match="chmod 600"):
        _ = ServiceIdentity(path).private_key


def test_refuses_garbage_and_other_key_types(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    path.write_bytes(b"not a key")
    path.chmod(0o600)
    with pytest.raises(IdentityError):
        _ = ServiceIdentity(path).private_key
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

    path.write_bytes(
        generate_private_key(SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(IdentityError, match="Ed25519"):
        _ = ServiceIdentity(path).private_key


def test_concurrent_first_use_converges(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    a, b = ServiceIdentity(path), ServiceIdentity(path)
    assert a.key_id == b.key_id


def test_rotation_keeps_old_public_key_as_retired(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    ident = ServiceIdentity(path, clock=clock)
    first = ident.key_id
    first_pub = ident.public_key
    new = ident.rotate()
    assert new.status == "active" and new.key_id == ident.key_id != first
    keys = ident.public_keys()
    assert [(k.key_id, k.status) for k in keys] == [(new.key_id, "active"), (first, "retired")]
    assert keys[1].retired == "2025-06-15T15:06:40Z"
    assert ident.find_public_key(first) == first_pub
    assert ident.find_public_key("ed25519-nope") is None
    assert stat.S_IMODE(ident.retired_path.stat().st_mode) == 0o600
    # Persisted: a fresh process sees the same state and never the old private key.
    again = ServiceIdentity(path)
    assert again.key_id == new.key_id
    assert [k.key_id for k in again.public_keys()] == [new.key_id, first]
    assert "PRIVATE" not in ident.retired_path.read_text()
    second = ident.rotate()
    assert [k.key_id for k in ident.public_keys()] == [second.key_id, new.key_id, first]


def test_reload_sees_rotation_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    web, admin = ServiceIdentity(path), ServiceIdentity(path)
    old = web.key_id
    new = admin.rotate()
    assert web.key_id == old  # cached
    web.reload()
    assert web.key_id == new.key_id


def test_crash_between_rotation_writes_is_harmless(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    ident = ServiceIdentity(path)
    pub = ident.public_key
    ident.retired_path.write_text(
        json.dumps(
            {
                "retired": [
                    {"key_id": ident.key_id, "public_key": public_key_b64url(pub), "retired": "x"}
                ]
            }
        )
    )
    assert [k.status for k in ident.public_keys()] == ["active"]


def test_corrupt_retired_file(tmp_path: Path) -> None:
    ident = ServiceIdentity(tmp_path / "id.pem")
    ident.retired_path.write_text("{")
    with pytest.raises(IdentityError):
        ident.public_keys()


def test_key_id_and_exports() -> None:
    pub = KEY.public_key()
    key_id = derive_key_id(pub)
    assert key_id.startswith("ed25519-") and len(key_id) == 8 + 43
    assert public_key_multibase(pub).startswith("z6Mk")  # multicodec ed25519-pub
    assert public_key_from_multibase(public_key_multibase(pub)) == pub
    assert len(public_key_b64url(pub)) == 43
    assert public_key_from_b64url(public_key_b64url(pub)) == pub
    with pytest.raises(ValueError):
        public_key_from_b64url("AAAA")
    with pytest.raises(ValueError):
        public_key_from_multibase("z" + "1" * 10)


def test_key_url_round_trip_and_refusals() -> None:
    url = key_url("a.example", "ed25519-abc")
    assert url == "https://a.example/.well-known/consentry#ed25519-abc"
    assert parse_key_url(url) == ("a.example", "ed25519-abc")
    for bad in [
        "https://a.example/.well-known/consentry",
        "http://a.example/.well-known/consentry#ed25519-abc",
        "https://a.example/other#ed25519-abc",
        "https://A.example/.well-known/consentry#ed25519-abc",
        "https://a.example:8443/.well-known/consentry#ed25519-abc",
        "https://a.example/.well-known/consentry#rsa-abc",
        "https://evil.example/x/https://a.example/.well-known/consentry#ed25519-abc",
    ]:
        with pytest.raises(ValueError):
            parse_key_url(bad)


def test_public_key_json_entry() -> None:
    from plugin.federation.identity import PublicKeyInfo

    info = PublicKeyInfo(derive_key_id(KEY.public_key()), KEY.public_key(), "active")
    entry = info.to_json("a.example")
    assert entry["id"] == key_url("a.example", info.key_id)
    assert entry["type"] == "Multikey" and entry["status"] == "active"
    assert entry["retired"] is None

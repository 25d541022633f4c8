"""The examples in docs/peer-protocol.md are test vectors: they must verify as published."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from plugin.federation.errors import ReplayedSignature
from plugin.federation.http_signatures import verify_request
from plugin.federation.identity import (
    derive_key_id,
    key_url,
    public_key_b64url,
    public_key_from_b64url,
    public_key_from_multibase,
)
from plugin.federation.jcs import canonicalize, loads
from plugin.federation.records import verify_record
from plugin.federation.replay import InMemoryReplayCache

SPEC = (Path(__file__).resolve().parents[2] / "docs" / "peer-protocol.md").read_text("utf-8")
TEST_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
TEST_KEY_ID = derive_key_id(TEST_KEY.public_key())
TEST_KEY_URL = key_url("a.example", TEST_KEY_ID)
SIGNED_AT = 1_750_000_000.0


def _blocks(kind: str) -> list[str]:
    pattern = rf"<!-- vector: {kind} -->\n```\w+\n(.*?)\n```"
    return re.findall(pattern, SPEC, flags=re.DOTALL)


def resolve(ref: str):
    return TEST_KEY.public_key() if ref == TEST_KEY_URL else None


def test_spec_key_material_matches_the_test_key() -> None:
    assert TEST_KEY_ID in SPEC and public_key_b64url(TEST_KEY.public_key()) in SPEC
    discovery = json.loads(re.search(r"```json\n(\{\n  \"domain\".*?)\n```", SPEC, re.S)[1])
    (entry,) = discovery["keys"]
    assert entry["id"] == TEST_KEY_URL and entry["key_id"] == TEST_KEY_ID
    assert public_key_from_multibase(entry["publicKeyMultibase"]) == TEST_KEY.public_key()
    assert public_key_from_b64url(entry["publicKeyBase64url"]) == TEST_KEY.public_key()


@pytest.mark.parametrize("block", _blocks("record"), ids=lambda b: json.loads(b)["type"])
def test_spec_records_verify(block: str) -> None:
    record = loads(block)
    verify_record(record, resolve, clock=lambda: SIGNED_AT + 200)


def test_all_record_types_have_vectors() -> None:
    types = sorted(json.loads(b)["type"] for b in _blocks("record"))
    assert types == ["consent", "hash", "retraction", "tombstone"]


def test_spec_canonical_form() -> None:
    record = loads(_blocks("record")[0])
    del record["proof"]
    assert canonicalize(record).decode() in SPEC


@pytest.mark.parametrize("kind", ["pair-request", "feed-request"])
def test_spec_requests_verify_once(kind: str) -> None:
    (block,) = _blocks(kind)
    head, _, body = block.partition("\n\n")
    request_line, *header_lines = head.split("\n")
    method, path, _ = request_line.split(" ")
    headers = dict(line.split(": ", 1) for line in header_lines)
    url = f"https://{headers['Host']}{path}"
    cache = InMemoryReplayCache()

    def verify() -> str:
        return verify_request(
            method, url, headers, body.encode(), resolve,
            replay_cache=cache, clock=lambda: SIGNED_AT,
        )  # fmt: skip

    assert verify() == TEST_KEY_URL
    with pytest.raises(ReplayedSignature):
        verify()

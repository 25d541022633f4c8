"""eddsa-jcs-2022 record proofs: signing, verification and every refusal."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from plugin.federation.encoding import multibase_decode
from plugin.federation.errors import (
    CanonicalizationError,
    ExpiredRecord,
    FederationError,
    InvalidRecord,
    InvalidSignature,
    MalformedSignature,
    UnknownKey,
    UnsupportedCryptosuite,
)
from plugin.federation.identity import key_url
from plugin.federation.ids import is_uuid7
from plugin.federation.jcs import canonicalize
from plugin.federation.records import hash_data, new_record, sign_record, verify_record

from .conftest import (
    DOMAIN,
    KEY,
    KEY_ID,
    KEY_URL,
    NOW,
    OTHER,
    OTHER_KEY,
    OTHER_KEY_ID,
    clock,
    consent_record,
    hash_record,
    resolve,
)


def sign(record: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return sign_record(record, KEY, KEY_ID, DOMAIN, clock=clock, **kw)


def check(record: Any, **kw: Any) -> None:
    verify_record(record, kw.pop("resolver", resolve), clock=kw.pop("clock", clock), **kw)


def test_sign_and_verify_round_trip() -> None:
    for record in (hash_record(), consent_record()):
        signed = sign(record)
        assert {k: v for k, v in signed.items() if k != "proof"} == record
        assert "proof" not in record  # input not mutated
        check(signed)
        check(json.loads(json.dumps(signed, indent=3)))  # survives any re-serialisation


def test_proof_shape_and_signature_input() -> None:
    signed = sign(hash_record())
    proof = signed["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["verificationMethod"] == f"https://{DOMAIN}/.well-known/consentry#{KEY_ID}"
    assert proof["created"] == "2025-06-15T15:06:40Z"
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["proofValue"].startswith("z")
    signature = multibase_decode(proof["proofValue"])
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    document = hash_record()
    expected = (
        hashlib.sha256(canonicalize(options)).digest()
        + hashlib.sha256(canonicalize(document)).digest()
    )
    assert hash_data(document, options) == expected
    KEY.public_key().verify(signature, expected)  # W3C eddsa-jcs-2022 construction


def test_signing_is_deterministic() -> None:
    assert sign(hash_record()) == sign(hash_record())


def test_new_record_helper() -> None:
    record = new_record("retraction", DOMAIN, {"target": hash_record()["id"]}, clock=clock)
    assert is_uuid7(record["id"]) and record["issued"] == "2025-06-15T15:06:40Z"
    check(sign(record))


def test_sign_refusals() -> None:
    with pytest.raises(InvalidRecord):
        sign(sign(hash_record()))
    with pytest.raises(InvalidRecord):
        sign_record(hash_record(), KEY, KEY_ID, OTHER)  # not the issuer
    with pytest.raises(InvalidRecord):
        sign(hash_record(opinion="maybe"))
    with pytest.raises(CanonicalizationError):
        sign(hash_record(extra=float("nan")))


def test_unknown_key_refused() -> None:
    with pytest.raises(UnknownKey):
        check(sign(hash_record()), resolver=lambda _ref: None)


def test_wrong_key_refused() -> None:
    with pytest.raises(InvalidSignature):
        check(sign(hash_record()), resolver=lambda _ref: OTHER_KEY.public_key())


def test_proof_domain_must_be_issuer() -> None:
    # b.example signs (validly, with its own key) a record claiming to be issued by a.example.
    record = hash_record()
    forged = sign_record(dict(record, issuer=OTHER), OTHER_KEY, OTHER_KEY_ID, OTHER, clock=clock)
    forged["issuer"] = DOMAIN
    with pytest.raises(InvalidSignature, match="another domain"):
        check(forged)


def test_consent_for_foreign_actor_refused_even_if_signed() -> None:
    # Build the signature by hand, bypassing sign_record's own validation.
    record = consent_record(actor=f"https://{OTHER}/users/bob")
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "verificationMethod": KEY_URL,
        "created": "2025-06-15T15:06:40Z",
        "proofPurpose": "assertionMethod",
    }
    from plugin.federation.encoding import multibase_encode

    sig = multibase_encode(KEY.sign(hash_data(record, options)))
    with pytest.raises(InvalidRecord, match="only speak for its users"):
        check(dict(record, proof=dict(options, proofValue=sig)))


def test_expiry_with_injected_clock() -> None:
    signed = sign(hash_record(expires="2025-06-16T00:00:00Z"))
    check(signed, clock=lambda: NOW)
    with pytest.raises(ExpiredRecord):
        check(signed, clock=lambda: 1_750_032_000.0)  # exactly at expiry
    check(sign(consent_record(expires=None)), clock=lambda: 4_000_000_000.0)


def test_proof_created_in_future_refused() -> None:
    signed = sign(hash_record(), created="2025-06-15T16:00:00Z")
    with pytest.raises(InvalidSignature, match="future"):
        check(signed)
    check(signed, clock=lambda: NOW + 3600)


def _proof(**changes: Any) -> dict[str, Any]:
    signed = sign(hash_record())
    signed["proof"].update(changes)
    return signed


@pytest.mark.parametrize(
    ("record", "error"),
    [
        (lambda: _proof(cryptosuite="ecdsa-jcs-2019"), UnsupportedCryptosuite),
        (lambda: _proof(cryptosuite="eddsa-rdfc-2022"), UnsupportedCryptosuite),
        (lambda: _proof(type="Ed25519Signature2020"), UnsupportedCryptosuite),
        (lambda: _proof(proofPurpose="authentication"), InvalidSignature),
        (lambda: _proof(verificationMethod="did:key:z6Mk"), MalformedSignature),
        (lambda: _proof(verificationMethod=key_url(OTHER, KEY_ID)), InvalidSignature),
        (lambda: _proof(proofValue="uAAAA"), MalformedSignature),
        (lambda: _proof(proofValue="z1111"), MalformedSignature),
        (lambda: _proof(proofValue=5), MalformedSignature),
        (lambda: _proof(created="yesterday"), MalformedSignature),
        (lambda: _proof(created="2025-06-15T15:06:41Z"), InvalidSignature),
        (lambda: _proof(extra="added"), InvalidSignature),
        (
            lambda: dict(sign(hash_record()), proof=[sign(hash_record())["proof"]]),
            MalformedSignature,
        ),
        (lambda: hash_record(), MalformedSignature),
        (lambda: "not an object", InvalidRecord),
        (lambda: dict(sign(hash_record()), opinion="false_positive"), InvalidSignature),
        (lambda: dict(sign(hash_record()), added=None), InvalidSignature),
        (lambda: dict(sign(hash_record()), opinion="maybe"), InvalidRecord),
    ],
)
def test_refusals(record: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        check(record())


def _replace_char(text: str, index: int, char: str) -> str:
    return text[:index] + char + text[index + 1 :]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    st.sampled_from(["hash", "consent"]),
    st.data(),
)
def test_any_single_char_flip_breaks_verification(kind: str, data: st.DataObject) -> None:
    record = hash_record() if kind == "hash" else consent_record()
    signed = sign(record)
    text = json.dumps(signed, ensure_ascii=False)
    index = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.characters(codec="utf-8", exclude_characters=[text[index]]))
    flipped = _replace_char(text, index, char)
    try:
        parsed = json.loads(flipped)
    except ValueError:
        assume(False)
        return
    assume(parsed != signed)  # e.g. "\u0041" spellings decode to the same value
    with pytest.raises(FederationError):
        check(parsed)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_single_byte_flip_of_canonical_json(data: st.DataObject) -> None:
    signed = sign(consent_record())
    raw = bytearray(canonicalize(signed))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    try:
        parsed = json.loads(bytes(raw))
    except (ValueError, UnicodeDecodeError):
        assume(False)
        return
    assume(parsed != signed)
    with pytest.raises(FederationError):
        check(parsed)

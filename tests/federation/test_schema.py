"""Structural record rules and policy bridges."""

from __future__ import annotations

from typing import Any

import pytest

from plugin.federation.errors import InvalidRecord
from plugin.federation.schema import bridge_policy, is_valid_domain, validate_record

from .conftest import DOMAIN, consent_record, hash_record

TARGET = "0197736c-7800-7abc-8def-0123456789ff"


def retraction(**kw: Any) -> dict[str, Any]:
    base = hash_record()
    for key in (
        "hash_type",
        "hash_value",
        "category",
        "labels",
        "recommended_action",
        "opinion",
        "human_reviewed",
        "published",
    ):
        del base[key]
    base.update({"type": "retraction", "target": TARGET, "reason": "false positive", **kw})
    return base


def test_valid_records() -> None:
    validate_record(hash_record())
    validate_record(consent_record())
    validate_record(retraction())
    validate_record(dict(retraction(), type="tombstone"))
    validate_record(hash_record(hash_type="md5", hash_value="a" * 32, labels=[]))
    validate_record(hash_record(x_future_field={"anything": 1}))  # forward compatible
    validate_record(consent_record(actor=f"https://{DOMAIN}:443/@alice"))


@pytest.mark.parametrize(
    "record",
    [
        [],
        hash_record(type="note"),
        hash_record(id="0197736c-7800-4abc-8def-0123456789ab"),
        hash_record(issuer="A.example"),
        hash_record(issuer="localhost"),
        hash_record(issued="2025-06-15 15:00:00"),
        hash_record(issued="2025-06-15T15:00:00"),
        hash_record(expires="2025-06-15T15:00:00Z"),  # not after issued
        {k: v for k, v in hash_record().items() if k != "expires"},
        hash_record(hash_type="phash"),
        hash_record(hash_value="F" * 64),
        hash_record(hash_value="f" * 63),
        hash_record(category="CSAM!"),
        hash_record(labels="nudity"),
        hash_record(labels=["ok", 3]),
        hash_record(labels=["x"] * 33),
        hash_record(recommended_action="nuke"),
        hash_record(opinion="maybe"),
        hash_record(human_reviewed="yes"),
        hash_record(human_reviewed=1),
        {k: v for k, v in hash_record().items() if k != "published"},
        consent_record(actor="https://b.example/users/alice"),
        consent_record(actor="https://a.example.evil.example/users/alice"),
        consent_record(actor="https://evil@a.example/users/alice"),
        consent_record(actor="https://a.example:8443/users/alice"),
        consent_record(actor="http://a.example/users/alice"),
        consent_record(actor="acct:alice@a.example"),
        consent_record(policy={"ai_edit": "maybe"}),
        consent_record(policy="not_allowed"),
        consent_record(protected_hashes=[{"hash_type": "pdq"}]),
        consent_record(protected_hashes=["f" * 64]),
        consent_record(protected_hashes={}),
        consent_record(stated=None),
        retraction(target="nope"),
        retraction(target=hash_record()["id"]),  # itself
        retraction(reason=5),
    ],
)
def test_invalid_records(record: Any) -> None:
    with pytest.raises(InvalidRecord):
        validate_record(record)


def test_actor_rule_names_the_reason() -> None:
    with pytest.raises(InvalidRecord, match="only speak for its users"):
        validate_record(consent_record(actor="https://b.example/users/alice"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "not_allowed",
            {"aipref": "ai-use=n", "cawg": {"cawg.ai_inference": "notAllowed"}, "noai": True},
        ),
        (
            "allowed",
            {"aipref": "ai-use=y", "cawg": {"cawg.ai_inference": "allowed"}, "noai": False},
        ),
        ("ask", {"aipref": "ai-use=n", "cawg": {"cawg.ai_inference": "constrained"}, "noai": True}),
    ],
)
def test_bridge_policy(value: str, expected: dict[str, Any]) -> None:
    assert bridge_policy({"ai_edit": value}) == expected


def test_bridge_policy_refuses_unknown() -> None:
    with pytest.raises(InvalidRecord):
        bridge_policy({})


def test_domains() -> None:
    assert is_valid_domain("xn--bcher-kva.example")
    assert not is_valid_domain("a..example")
    assert not is_valid_domain("-a.example")
    assert not is_valid_domain("a.example.")

"""The pure parts of consent: C2PA reading and the enforcement decision."""

from __future__ import annotations

from plugin.consent.c2pa import read_provenance
from plugin.consent.decision import ai_signals, decide, strictest
from tests.consent.c2pa_signing import make_signer, with_ai_manifest
from tests.protection.images import edited

ALICE, BOB = "https://a.test/users/alice", "https://b.test/users/bob"


def test_c2pa_ai_manifest_is_read_and_plain_files_have_none():
    signed = with_ai_manifest(edited(5), make_signer())
    facts = read_provenance(signed)
    assert facts["ai"] is True and facts["tampered"] is False
    assert facts["digital_source_types"] == ["compositeWithTrainedAlgorithmicMedia"]
    assert facts["software_agents"] == ["Test Inpainter"] and facts["trusted"] is False
    camera = with_ai_manifest(edited(5), make_signer(),
                              "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture")
    assert read_provenance(camera)["ai"] is False
    assert read_provenance(edited(5)) is None
    tampered = bytearray(signed)
    tampered[-200] ^= 0xFF  # flip a byte of the image data: the hash binding fails
    facts = read_provenance(bytes(tampered))
    assert facts is None or facts["ai"] is False


def test_decisions():
    ai = ai_signals(provenance={"ai": True, "digital_source_types": ["x"]}, poster_acct="bob",
                    ai_accounts=[], labels=[], ai_labels=["ai_generated"])
    assert decide(owner=ALICE, poster=BOB, consent="not_allowed", ai_reasons=ai,
                  labels=[]).category == "nonconsensual_ai_edit"
    assert decide(owner=ALICE, poster=BOB, consent="ask", ai_reasons=ai,
                  labels=[]).category == "nonconsensual_ai_edit"
    assert decide(owner=ALICE, poster=BOB, consent="allowed", ai_reasons=ai,
                  labels=[]).category == "repost"
    assert decide(owner=ALICE, poster=BOB, consent="not_allowed", ai_reasons=[],
                  labels=[]).category == "repost"
    assert decide(owner=ALICE, poster=ALICE, consent="not_allowed", ai_reasons=ai,
                  labels=[]).category == "own"
    nude = [{"label": "nudity.explicit", "score": 0.95}]
    assert decide(owner=ALICE, poster=BOB, consent="allowed", ai_reasons=[],
                  labels=nude).category == "ncii"
    bot = ai_signals(provenance=None, poster_acct="editbot@x.example",
                     ai_accounts=["editbot@x.example"], labels=[{"label": "ai_generated"}],
                     ai_labels=["ai_generated"])
    assert bot == ["account:editbot@x.example", "label:ai_generated"]
    assert strictest(["allowed", "ask", "unknown"]) == "ask"
    assert strictest(["ask", "not_allowed"]) == "not_allowed"


def test_ai_signals_include_known_ai_applications():
    from plugin.consent.decision import ai_signals

    common = {"provenance": None, "poster_acct": "bob", "ai_accounts": [], "labels": [],
              "ai_labels": []}
    assert ai_signals(**common, application="Undress-o-Matic",
                      ai_apps=["undress-o-matic", ""]) == ["application:Undress-o-Matic"]
    assert ai_signals(**common, application="Web", ai_apps=["undress-o-matic"]) == []
    assert ai_signals(**common, application=None, ai_apps=["undress-o-matic"]) == []


def test_the_posting_application_is_read_from_the_payload():
    import json

    from plugin.mastodon.payloads import parse_webhook
    from tests.conftest import FIXTURES

    body = (FIXTURES / "status.created-image-1-focus-private-reply.json").read_bytes()
    assert parse_webhook(body).statuses[0].application == "Web"
    raw = json.loads(body)
    raw["object"]["application"] = None
    assert parse_webhook(json.dumps(raw).encode()).statuses[0].application is None

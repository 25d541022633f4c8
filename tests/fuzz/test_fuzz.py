"""Property tests (Hypothesis) on the parsers and canonicalisation, and a short atheris run of
every fuzz target (``tests/fuzz/targets.py``) so CI exercises them on each change.

Properties: the JCS canonical form is a fixed point and survives a round trip; a structured
field dictionary survives serialise → parse; a record signature, an HTTP message signature and
the webhook HMAC never accept a changed byte; every fuzz target holds its contract on
arbitrary bytes.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from plugin.errors import Unauthorized
from plugin.federation.errors import FederationError
from plugin.federation.http_signatures import sign_request, verify_request
from plugin.federation.jcs import canonicalize, loads
from plugin.federation.records import sign_record, verify_record
from plugin.federation.replay import InMemoryReplayCache
from plugin.federation.structured_fields import Item, Token, parse_dictionary, serialize_dictionary
from plugin.web.webhooks import verify_signature
from tests.federation.conftest import DOMAIN, KEY, KEY_ID, KEY_URL, clock, hash_record, resolve
from tests.fuzz.targets import TARGETS
from tests.reliability.support import REPO

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30)


@given(json_values)
def test_jcs_canonical_form_round_trips(value):
    canonical = canonicalize(value)
    assert canonicalize(loads(canonical)) == canonical
    # independent of how the input was written: re-encoded any way, the same canonical bytes
    assert canonicalize(json.loads(json.dumps(value, indent=1, sort_keys=True))) == canonical


keys = st.from_regex(r"[a-z*][a-z0-9_\-.*]{0,10}", fullmatch=True)
bare = (st.integers(-999_999_999_999_999, 999_999_999_999_999) | st.booleans()
        | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
        | st.binary(max_size=12)
        | st.from_regex(r"[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]{0,8}", fullmatch=True).map(Token))


@given(st.dictionaries(keys, st.builds(Item, bare, st.dictionaries(keys, bare, max_size=2)),
                       min_size=1, max_size=4))
def test_structured_field_dictionaries_round_trip(members):
    text = serialize_dictionary(members)
    assert parse_dictionary(text) == members
    assert serialize_dictionary(parse_dictionary(text)) == text


SIGNED = sign_record(hash_record(), KEY, KEY_ID, DOMAIN, clock=clock)
SIGNED_BYTES = canonicalize(SIGNED)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(st.integers(0, len(SIGNED_BYTES) - 1), st.integers(1, 255))
def test_a_signed_record_never_verifies_with_a_changed_byte(position, delta):
    changed = bytearray(SIGNED_BYTES)
    changed[position] = (changed[position] + delta) % 256
    try:
        record = loads(bytes(changed))
    except ValueError:
        return  # no longer JSON: refused before any signature check
    assume(record != SIGNED)  # e.g. an escape that decodes to the same string
    with pytest.raises(FederationError):
        verify_record(record, resolve, clock=clock)


BODY = b'{"records":[1,2,3],"next":"0"}'
URL = "https://b.example/federation/v1/changes?since=0"


@settings(max_examples=200)
@given(st.integers(0, len(BODY) - 1), st.integers(1, 255))
def test_an_http_signature_never_accepts_a_changed_body_byte(position, delta):
    headers = {"Content-Type": "application/json"}
    headers.update(sign_request("POST", URL, headers, BODY, KEY, KEY_URL, clock=clock))
    changed = bytearray(BODY)
    changed[position] = (changed[position] + delta) % 256
    with pytest.raises(FederationError):
        verify_request("POST", URL, headers, bytes(changed), resolve,
                       replay_cache=InMemoryReplayCache(), clock=clock)
    assert verify_request("POST", URL, headers, BODY, resolve, replay_cache=InMemoryReplayCache(),
                          clock=clock) == KEY_URL


@given(st.binary(min_size=1, max_size=300), st.data())
def test_the_webhook_hmac_never_accepts_a_changed_byte(body, data):
    import hashlib
    import hmac

    header = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    position = data.draw(st.integers(0, len(body) - 1))
    changed = bytearray(body)
    changed[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises(Unauthorized):
        verify_signature("s3cret", bytes(changed), header)
    verify_signature("s3cret", body, header)


@pytest.mark.parametrize("name", sorted(TARGETS))
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2048))
def test_fuzz_targets_hold_on_arbitrary_bytes(name, data):
    TARGETS[name](data)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_atheris_runs_each_target_briefly(name, tmp_path):
    done = subprocess.run([sys.executable, "-m", "tests.fuzz.run", name, "-max_total_time=4",
                           f"-artifact_prefix={tmp_path}/"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done" in done.stderr

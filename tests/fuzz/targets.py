"""One fuzz target per parser that reads bytes from outside: each takes ``bytes`` and either
returns or raises the error the parser documents. Anything else (a crash, an unexpected
exception type, a broken round-trip) is a finding.

The same functions run under atheris (``tests/fuzz/run.py``, coverage-guided) and under
Hypothesis (``tests/fuzz/test_fuzz.py``, in ``make test``).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from plugin.errors import BadRequest, MediaError
from plugin.federation.errors import FederationError, InvalidRecord
from plugin.federation.jcs import canonicalize, loads
from plugin.federation.records import verify_record
from plugin.federation.schema import validate_record
from plugin.federation.structured_fields import parse_dictionary, serialize_dictionary
from plugin.mastodon.payloads import parse_webhook
from plugin.media.decode import decode_image
from plugin.media.fetch import sniff_media_type

MAX_PIXELS = 4_000_000


def webhook(data: bytes) -> None:
    try:
        event = parse_webhook(data)
    except BadRequest:
        return
    for status in event.statuses:  # what the worker reads must be the types it expects
        assert isinstance(status.status_id, str)
        assert all(isinstance(m.media_id, str) for m in status.media)


def jcs(data: bytes) -> None:
    try:
        value = loads(data)
    except ValueError:
        return
    try:
        canonical = canonicalize(value)
    except ValueError:
        return  # e.g. a number JCS cannot represent
    assert canonicalize(loads(canonical)) == canonical  # canonical form is a fixed point


def structured_fields(data: bytes) -> None:
    try:
        parsed = parse_dictionary(data.decode("latin-1"))
    except ValueError:
        return
    text = serialize_dictionary(parsed)
    assert parse_dictionary(text) == parsed
    assert serialize_dictionary(parse_dictionary(text)) == text


def record(data: bytes) -> None:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return
    try:
        validate_record(doc)
    except InvalidRecord:
        pass
    try:
        verify_record(doc, lambda _key: None)
    except FederationError:
        return
    raise AssertionError("a record verified without any key")


def image(data: bytes) -> None:
    sniff_media_type(data[:16])
    try:
        decoded = decode_image(data, max_pixels=MAX_PIXELS)
    except MediaError:
        return
    assert decoded.image.mode == "RGB" and max(decoded.image.size) <= 1024


TARGETS: dict[str, Callable[[bytes], None]] = {
    "webhook": webhook, "jcs": jcs, "structured_fields": structured_fields,
    "record": record, "image": image,
}

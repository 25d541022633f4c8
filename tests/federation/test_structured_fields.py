"""RFC 8941 dictionary parsing/serialisation as used by signature and digest headers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugin.federation.structured_fields import (
    InnerList,
    Item,
    Token,
    parse_dictionary,
    serialize_dictionary,
)


def test_parse_signature_input() -> None:
    text = 'sig1=("@method" "@target-uri");created=1618884473;keyid="k\\"1";alg="ed25519"'
    parsed = parse_dictionary(text)
    inner = parsed["sig1"]
    assert isinstance(inner, InnerList)
    assert [i.value for i in inner.items] == ["@method", "@target-uri"]
    assert inner.params == {"created": 1618884473, "keyid": 'k"1', "alg": "ed25519"}
    assert serialize_dictionary(parsed) == text


def test_parse_mixed_members() -> None:
    parsed = parse_dictionary("a=:AQI=:, b=?0, c, d=tok/x;p=1,e=-5")
    assert parsed["a"] == Item(b"\x01\x02")
    assert parsed["b"] == Item(False)
    assert parsed["c"] == Item(True)
    assert parsed["d"] == Item(Token("tok/x"), {"p": 1})
    assert isinstance(parsed["d"].value, Token)
    assert parsed["e"] == Item(-5)
    assert serialize_dictionary(parsed) == "a=:AQI=:, b=?0, c, d=tok/x;p=1, e=-5"


@pytest.mark.parametrize(
    "bad",
    [
        "sig1=(",
        'sig1="unterminated',
        "sig1=:AQI",
        "sig1=:A*I=:",
        "Sig1=1",
        "sig1=1,",
        "sig1=1.5",
        "sig1=1234567890123456",
        'sig1="\\x"',
        "sig1=?2",
        'sig1=("a""b")',
        "sig1=1 x",
        "é=1",
        "sig1=@",
    ],
)
def test_malformed_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_dictionary(bad)


def test_serializer_refuses_unrepresentable() -> None:
    with pytest.raises(ValueError):
        serialize_dictionary({"a": Item("é")})
    with pytest.raises(ValueError):
        serialize_dictionary({"A": Item(1)})
    with pytest.raises(ValueError):
        serialize_dictionary({"a": Item(10**15)})


sf_strings = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
bare = st.integers(-(10**15) + 1, 10**15 - 1) | sf_strings | st.binary(max_size=20) | st.booleans()
keys = st.from_regex(r"[a-z][a-z0-9_\-.*]{0,6}", fullmatch=True)
items = st.builds(Item, bare, st.dictionaries(keys, bare, max_size=3))
members = items | st.builds(
    InnerList, st.lists(items, max_size=3).map(tuple), st.dictionaries(keys, bare, max_size=3)
)


@given(st.dictionaries(keys, members, min_size=1, max_size=4))
def test_round_trip(value: dict) -> None:
    assert parse_dictionary(serialize_dictionary(value)) == value

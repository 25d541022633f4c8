"""RFC 8785 vectors (sections 3.2.2, 3.2.3, appendix B) and round-trip properties."""

from __future__ import annotations

import json
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugin.federation.errors import CanonicalizationError, FederationError
from plugin.federation.jcs import MAX_SAFE_INTEGER, canonicalize, loads, serialize_number

# RFC 8785 section 3.2.2 (input written with JSON escapes exactly as in the RFC).
RFC_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
RFC_OUTPUT = (
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
)

# RFC 8785 section 3.2.3: sorting by UTF-16 code units.
RFC_SORT_INPUT = r"""{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"""
RFC_SORT_ORDER = [
    "Carriage Return",
    "One",
    "Control",
    "Latin Small Letter O With Diaeresis",
    "Euro Sign",
    "Emoji: Grinning Face",
    "Hebrew Letter Dalet With Dagesh",
]

# RFC 8785 appendix B: IEEE-754 bit pattern -> expected serialisation.
NUMBER_VECTORS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def _double(hex_bits: str) -> float:
    return struct.unpack(">d", bytes.fromhex(hex_bits))[0]


def test_rfc8785_example() -> None:
    assert canonicalize(json.loads(RFC_INPUT)) == RFC_OUTPUT.encode("utf-8")


def test_rfc8785_sorting_example() -> None:
    out = json.loads(canonicalize(json.loads(RFC_SORT_INPUT)))
    assert list(out.values()) == RFC_SORT_ORDER


@pytest.mark.parametrize(("bits", "expected"), NUMBER_VECTORS)
def test_rfc8785_number_vectors(bits: str, expected: str) -> None:
    assert serialize_number(_double(bits)) == expected


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_nan_and_infinity_refused(bits: str) -> None:
    with pytest.raises(CanonicalizationError):
        canonicalize([_double(bits)])


@pytest.mark.parametrize(
    "value",
    [
        {1: "x"},
        "\ud800",
        {"\udfff": 1},
        MAX_SAFE_INTEGER + 2,
        -(MAX_SAFE_INTEGER + 2),
        10**400,
        b"bytes",
        {1, 2},
        object(),
    ],
)
def test_unrepresentable_values_refused(value: object) -> None:
    with pytest.raises(CanonicalizationError) as info:
        canonicalize(value)
    assert isinstance(info.value, FederationError) and isinstance(info.value, ValueError)


def test_scalars_and_escapes() -> None:
    assert canonicalize(None) == b"null"
    assert canonicalize(True) == b"true"
    assert canonicalize([1, -0.0, 2.5, MAX_SAFE_INTEGER]) == b"[1,0,2.5,9007199254740991]"
    assert canonicalize("\x00\x1f\x7f\u2028/") == b'"\\u0000\\u001f\x7f\xe2\x80\xa8/"'
    assert canonicalize('\b\f\n\r\t"\\') == b'"\\b\\f\\n\\r\\t\\"\\\\"'
    assert canonicalize((1, [])) == b"[1,[]]"
    assert canonicalize({"b": {}, "a": {"d": 1, "c": 2}}) == b'{"a":{"c":2,"d":1},"b":{}}'


def test_large_integers_exact_as_doubles_are_serialised_like_ecmascript() -> None:
    assert canonicalize(2**53) == b"9007199254740992"
    assert canonicalize(10**21) == b"1e+21"
    assert canonicalize(-(2**60)) == b"-1152921504606847000"  # as JS prints 2**60
    # ECMAScript spelling of a double (what we emit for 4.812587803971633e16) is accepted back.
    assert canonicalize(48125878039716330) == b"48125878039716330"


def test_bool_is_not_a_number() -> None:
    with pytest.raises(CanonicalizationError):
        serialize_number(True)


def test_non_bmp_keys_sort_by_utf16_not_code_point() -> None:
    # U+1F600 is 0xD83D 0xDE00 in UTF-16, which sorts before U+FB33 although its code point
    # is larger; Python's default str ordering would get this wrong.
    keys = list(json.loads(canonicalize({"\ufb33": 1, "\U0001f600": 2})))
    assert keys == ["\U0001f600", "\ufb33"]


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


def _es_int(text: str) -> int | float:
    # Python parses "48125878039716330" as an exact int; ECMAScript (and the value we
    # serialised) is the nearest double.  Compare numbers as ECMAScript would.
    value = int(text)
    return value if abs(value) <= MAX_SAFE_INTEGER else float(value)


@given(json_values)
def test_round_trip_and_idempotence(value: object) -> None:
    text = canonicalize(value)
    assert json.loads(text, parse_int=_es_int) == value
    assert canonicalize(json.loads(text)) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_round_trip_exactly(value: float) -> None:
    text = serialize_number(value)
    assert float(text) == value or (value == 0 and text == "0")
    assert "E" not in text and not text.endswith(".0") and math.isfinite(float(text))


@given(st.dictionaries(st.text(max_size=6), st.integers(0, 9), max_size=8))
def test_key_order_is_utf16_order(value: dict[str, int]) -> None:
    keys = list(json.loads(canonicalize(value)))
    assert keys == sorted(value, key=lambda k: k.encode("utf-16-be"))


small_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.floats(min_value=-(2.0**53), max_value=2.0**53)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


@given(small_values)
def test_plain_json_round_trip(value: object) -> None:
    assert json.loads(canonicalize(value)) == value


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',
        '{"x": {"b": 1, "b": 1}}',
        "[NaN]",
        '{"a": Infinity}',
        "[-Infinity]",
        '["\\ud800"]',
        "[9007199254740993]",
        b'"\xff"',
        "{",
    ],
)
def test_strict_loads_refuses(text: str | bytes) -> None:
    with pytest.raises(CanonicalizationError):
        loads(text)


def test_strict_loads_accepts_normal_json() -> None:
    assert loads(rb'{"a": [1, 2.5, "\u00e9", null]}') == {"a": [1, 2.5, "\u00e9", None]}


_plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


@given(_plain_values)
def test_fast_path_equals_reference_serialiser(value: object) -> None:
    """The json.dumps fast path must produce the byte-identical output of the slow writer."""
    from plugin.federation import jcs

    parts: list[str] = []
    try:
        jcs._write(value, parts)
        expected = "".join(parts).encode("utf-8")
    except (CanonicalizationError, UnicodeEncodeError):
        with pytest.raises(CanonicalizationError):
            canonicalize(value)
        return
    assert canonicalize(value) == expected

"""RFC 8785 JSON Canonicalization Scheme (JCS).

Signatures are computed over bytes, but peers exchange JSON objects that any intermediary or
JSON library may re-serialise.  JCS gives every JSON value exactly one byte representation, so
the signer and the verifier hash the same bytes without having to agree on a serialiser:

* object members sorted by their names compared as arrays of UTF-16 code units;
* no insignificant whitespace;
* strings escaped minimally (only ``"``, ``\\`` and the C0 controls), emitted as UTF-8;
* numbers serialised like ECMAScript ``Number.prototype.toString`` (shortest round-trip
  digits, ``1e+21`` style exponents from 1e21 and below 1e-6).

Accepted Python values: ``dict`` (``str`` keys), ``list``/``tuple``, ``str``, ``int``,
``float``, ``bool`` and ``None``.  Refused with :class:`CanonicalizationError`: NaN and
infinities, strings containing lone surrogates (not valid I-JSON), non-string keys, integers
beyond 2**53 that are neither exactly a double nor the ECMAScript spelling of one (e.g.
2**53 + 1: an ECMAScript peer would round it and hash different bytes), and any other type.
Accepted large integers are serialised as ECMAScript would (``1e+21``, ...).

Python's ``repr(float)`` yields the shortest digit string that round-trips, which is the digit
string ECMAScript also picks; only the layout (exponent threshold and format) differs, and that
is re-done here.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

from .errors import CanonicalizationError

__all__ = ["MAX_SAFE_INTEGER", "canonicalize", "loads", "serialize_number"]

MAX_SAFE_INTEGER = 2**53 - 1

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def canonicalize(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 encoding of *obj*."""
    if _plain(obj):
        # Fast path (records are plain: ASCII keys, strings, safe integers, no floats). For
        # such values ``json.dumps`` with sorted keys and no whitespace emits exactly the JCS
        # bytes: it escapes the same characters the same way, and code-point order of ASCII
        # keys is UTF-16 order. Lone surrogates still fail in the UTF-8 encode.
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CanonicalizationError("string contains a lone surrogate") from exc
    parts: list[str] = []
    _write(obj, parts)
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as exc:  # pragma: no cover - strings are checked earlier
        raise CanonicalizationError("string is not valid Unicode") from exc


def _plain(obj: Any) -> bool:
    """True if *obj* holds only values whose ``json.dumps`` spelling is already canonical."""
    kind = type(obj)
    if kind is str or obj is None or kind is bool:
        return True
    if kind is int:
        return -MAX_SAFE_INTEGER <= obj <= MAX_SAFE_INTEGER
    if kind is dict:
        return all(type(k) is str and k.isascii() and _plain(v) for k, v in obj.items())
    if kind is list:
        return all(_plain(v) for v in obj)
    return False


def _write(obj: Any, out: list[str]) -> None:
    # bool before int: bool is an int subclass in Python.
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, str):
        out.append(_serialize_string(obj))
    elif isinstance(obj, (int, float)):
        out.append(serialize_number(obj))
    elif isinstance(obj, dict):
        keys = list(obj)
        for key in keys:
            if not isinstance(key, str):
                raise CanonicalizationError(f"object key must be str, not {type(key).__name__}")
        out.append("{")
        for i, key in enumerate(sorted(keys, key=_utf16_sort_key)):
            if i:
                out.append(",")
            out.append(_serialize_string(key))
            out.append(":")
            _write(obj[key], out)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for i, item in enumerate(obj):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise CanonicalizationError(f"cannot canonicalize {type(obj).__name__}")


def _utf16_sort_key(key: str) -> bytes:
    # Big-endian UTF-16 bytes compare exactly like sequences of UTF-16 code units.
    try:
        return key.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise CanonicalizationError("object key contains a lone surrogate") from exc


def _serialize_string(s: str) -> str:
    out = ['"']
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        elif "\ud800" <= ch <= "\udfff":
            raise CanonicalizationError("string contains a lone surrogate")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def serialize_number(value: float) -> str:
    """Serialise a number exactly as ECMAScript ``Number.prototype.toString`` would."""
    if isinstance(value, bool):
        raise CanonicalizationError("bool is not a number")
    if isinstance(value, int):
        if abs(value) <= MAX_SAFE_INTEGER:
            return str(value)
        # Larger integers are what an ECMAScript peer would see only if they are exactly a
        # double, or are the ECMAScript spelling of one (e.g. 48125878039716330, which our own
        # output produces and Python's json parses back as int).  Anything else would be
        # rounded by the peer, which would then hash different bytes.
        try:
            as_float = float(value)
        except OverflowError:
            raise CanonicalizationError("integer too large for an IEEE-754 double") from None
        if as_float != value and serialize_number(as_float) != str(value):
            raise CanonicalizationError("integer not representable as an IEEE-754 double")
        value = as_float
    if not math.isfinite(value):
        raise CanonicalizationError("NaN and Infinity are not valid JSON")
    if value == 0:
        return "0"  # also -0.0
    sign = "-" if value < 0 else ""
    _, digit_tuple, exp = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exp, int)
    # value == 0.DIGITS * 10**n  (ECMA-262 Number::toString, with k = len(digits))
    k = len(digits)
    n = exp + len(digit_tuple)
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        body = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + body


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # then find the name to report (the rare path)
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise CanonicalizationError(f"duplicate member name {key!r}")
            seen.add(key)
    return out


def _no_constant(name: str) -> Any:
    raise CanonicalizationError(f"{name} is not valid JSON")


def _checked_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        serialize_number(value)  # refuses what a double cannot hold
    return value


def _checked_float(text: str) -> float:
    value = float(text)
    serialize_number(value)  # refuses 1e400 (parsed as inf)
    return value


#: A ``\\uD800``-``\\uDFFF`` escape: the only way JSON text can spell a surrogate. A match
#: (possibly a false one, e.g. an escaped backslash before "ud800") sends the value through
#: the full canonicalisation check; no match proves the value holds no surrogate at all.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def loads(data: str | bytes) -> Any:
    """Parse received JSON strictly enough that signatures over it mean one thing.

    ``json.loads`` silently keeps the last of duplicate member names and accepts ``NaN`` and
    ``Infinity``; a signer and a verifier using different parsers could then disagree about
    what was signed.  This refuses both (:class:`CanonicalizationError`), as well as invalid
    UTF-8 and anything JCS cannot canonicalise.

    Cost matters: a feed page holds 1,000 records. Numbers are checked as they are parsed and
    lone surrogates are looked for in the text, so the whole-value ``canonicalize`` walk (as
    expensive as the parse itself) runs only when the text holds a surrogate escape.
    """
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            # Not UTF-8 (json also reads UTF-16/32): parse, then check the slow way.
            value = _parse(data)
            canonicalize(value)
            return value
    else:
        try:
            data.encode("utf-8")  # raw lone surrogates in a str
        except UnicodeEncodeError:
            raise CanonicalizationError("string contains a lone surrogate") from None
    value = _parse(data)
    if _SURROGATE_ESCAPE.search(data):
        canonicalize(value)  # lone surrogates
    return value


def _parse(data: str | bytes) -> Any:
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                          parse_int=_checked_int, parse_float=_checked_float)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CanonicalizationError(f"invalid JSON: {exc}") from None

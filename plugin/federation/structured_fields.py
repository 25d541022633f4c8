"""Minimal RFC 8941 Structured Field Values: dictionaries, inner lists, parameters.

RFC 9421 (``Signature-Input``/``Signature``) and RFC 9530 (``Content-Digest``) are defined as
structured-field dictionaries.  Hand-rolled string splitting gets quoting and escaping wrong,
and the signature base contains the *re-serialised* signature parameters, so parser and
serialiser must both follow RFC 8941 exactly.  Decimals are not needed by these headers and are
refused; everything else a dictionary member can hold is supported.

Python model: bare items are ``int``, ``str`` (sf-string), :class:`Token`, ``bytes`` and
``bool``; an :class:`Item` is a bare item with ``params``; an :class:`InnerList` is a list of
items with ``params``.  Parsing errors raise ``ValueError``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

__all__ = [
    "BareItem",
    "InnerList",
    "Item",
    "Token",
    "parse_dictionary",
    "serialize_dictionary",
    "serialize_inner_list",
]


class Token(str):
    """An sf-token (unquoted), as opposed to an sf-string."""

    __slots__ = ()


BareItem = int | str | Token | bytes | bool
Params = dict[str, BareItem]


@dataclass(frozen=True)
class Item:
    value: BareItem
    params: Params = field(default_factory=dict)


@dataclass(frozen=True)
class InnerList:
    items: tuple[Item, ...]
    params: Params = field(default_factory=dict)


Member = Item | InnerList

_KEY_RE = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN_RE = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_INT_RE = re.compile(r"-?[0-9]{1,15}")
_B64_RE = re.compile(r"[A-Za-z0-9+/=]*")


class _Parser:
    def __init__(self, text: str) -> None:
        if not text.isascii():
            raise ValueError("structured field must be ASCII")
        self.s = text.strip(" ")
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip(self, chars: str) -> None:
        while self.i < len(self.s) and self.s[self.i] in chars:
            self.i += 1

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            raise ValueError(f"expected {ch!r} at {self.i}")
        self.i += 1

    def dictionary(self) -> dict[str, Member]:
        out: dict[str, Member] = {}
        while self.i < len(self.s):
            key = self.key()
            if self.peek() == "=":
                self.i += 1
                out[key] = self.member()
            else:
                out[key] = Item(True, self.params())
            self.skip(" \t")
            if self.i >= len(self.s):
                return out
            self.expect(",")
            self.skip(" \t")
            if self.i >= len(self.s):
                raise ValueError("trailing comma")
        return out

    def member(self) -> Member:
        if self.peek() == "(":
            return self.inner_list()
        return Item(self.bare_item(), self.params())

    def inner_list(self) -> InnerList:
        self.expect("(")
        items: list[Item] = []
        while True:
            self.skip(" ")
            if self.peek() == ")":
                self.i += 1
                return InnerList(tuple(items), self.params())
            items.append(Item(self.bare_item(), self.params()))
            if self.peek() not in (" ", ")"):
                raise ValueError("bad inner list")

    def params(self) -> Params:
        out: Params = {}
        while self.peek() == ";":
            self.i += 1
            self.skip(" ")
            key = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.i += 1
                value = self.bare_item()
            out[key] = value
        return out

    def key(self) -> str:
        m = _KEY_RE.match(self.s, self.i)
        if not m:
            raise ValueError(f"bad key at {self.i}")
        self.i = m.end()
        return m.group()

    def bare_item(self) -> BareItem:
        ch = self.peek()
        if ch == '"':
            return self.string()
        if ch == ":":
            return self.byte_seq()
        if ch == "?":
            self.i += 1
            if self.peek() not in ("0", "1"):
                raise ValueError("bad boolean")
            self.i += 1
            return self.s[self.i - 1] == "1"
        if ch == "-" or ch.isdigit():
            m = _INT_RE.match(self.s, self.i)
            if not m:
                raise ValueError("bad integer")
            self.i = m.end()
            if self.peek() == "." or self.peek().isdigit():
                raise ValueError("decimals and integers over 15 digits are not supported")
            return int(m.group())
        m = _TOKEN_RE.match(self.s, self.i)
        if not m:
            raise ValueError(f"bad item at {self.i}")
        self.i = m.end()
        return Token(m.group())

    def string(self) -> str:
        self.expect('"')
        out: list[str] = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            self.i += 1
            if ch == "\\":
                nxt = self.peek()
                if nxt not in ('"', "\\"):
                    raise ValueError("bad escape in string")
                out.append(nxt)
                self.i += 1
            elif ch == '"':
                return "".join(out)
            elif not (" " <= ch <= "~"):
                raise ValueError("bad character in string")
            else:
                out.append(ch)
        raise ValueError("unterminated string")

    def byte_seq(self) -> bytes:
        self.expect(":")
        end = self.s.find(":", self.i)
        if end < 0:
            raise ValueError("unterminated byte sequence")
        text = self.s[self.i : end]
        self.i = end + 1
        if not _B64_RE.fullmatch(text):
            raise ValueError("bad base64 in byte sequence")
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error as exc:
            raise ValueError("bad base64 in byte sequence") from exc


def parse_dictionary(text: str) -> dict[str, Member]:
    """Parse an RFC 8941 dictionary (a single field line; combine duplicates with ``, ``)."""
    return _Parser(text).dictionary()


def _ser_bare(value: BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        if abs(value) > 999_999_999_999_999:
            raise ValueError("integer out of range")
        return str(value)
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, Token):
        if not _TOKEN_RE.fullmatch(value):
            raise ValueError("bad token")
        return str(value)
    if isinstance(value, str):
        if not all(" " <= c <= "~" for c in value):
            raise ValueError("sf-string must be printable ASCII")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _ser_params(params: Params) -> str:
    out = []
    for key, value in params.items():
        if not _KEY_RE.fullmatch(key):
            raise ValueError(f"bad key {key!r}")
        out.append(f";{key}" if value is True else f";{key}={_ser_bare(value)}")
    return "".join(out)


def _ser_item(item: Item) -> str:
    return _ser_bare(item.value) + _ser_params(item.params)


def serialize_inner_list(inner: InnerList) -> str:
    """Serialise an inner list with its parameters (used for ``@signature-params``)."""
    return "(" + " ".join(_ser_item(i) for i in inner.items) + ")" + _ser_params(inner.params)


def serialize_dictionary(members: dict[str, Member]) -> str:
    """Serialise an RFC 8941 dictionary."""
    out = []
    for key, member in members.items():
        if not _KEY_RE.fullmatch(key):
            raise ValueError(f"bad key {key!r}")
        if isinstance(member, InnerList):
            out.append(f"{key}={serialize_inner_list(member)}")
        elif member.value is True:
            out.append(key + _ser_params(member.params))
        else:
            out.append(f"{key}={_ser_item(member)}")
    return ", ".join(out)

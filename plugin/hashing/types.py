"""The ``HashType`` interface and its registry.

A hash type knows its permanent wire name, how to validate and canonicalise a value written
by a person or another tool, and how to compare two values (distance 0 = identical). Banks,
imports and peers all go through ``hash_type(name).canonical(value)`` so that nothing
malformed reaches an index.
"""

from __future__ import annotations

import re
from typing import ClassVar

from plugin.errors import BadRequest


class HashType:
    name: ClassVar[str]
    #: largest distance still treated as a match by default (0: exact types)
    default_threshold: ClassVar[int] = 0
    _pattern: ClassVar[re.Pattern[str]]

    @classmethod
    def canonical(cls, value: str) -> str:
        text = value.strip().lower()
        if not cls._pattern.fullmatch(text):
            raise BadRequest(f"not a valid {cls.name} hash: {value[:80]!r}")
        return text

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return 0 if a == b else 1 << 16

    @classmethod
    def examples(cls) -> list[str]:
        raise NotImplementedError


class PdqHash(HashType):
    """Facebook's PDQ: 256 bits written as 64 hex characters, compared by Hamming distance."""

    name = "pdq"
    default_threshold = 31
    _pattern = re.compile(r"[0-9a-f]{64}")

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return (int(a, 16) ^ int(b, 16)).bit_count()

    @classmethod
    def examples(cls) -> list[str]:
        return ["f" * 64, "0123456789abcdef" * 4]


class Sha256Hash(HashType):
    name = "sha256"
    _pattern = re.compile(r"[0-9a-f]{64}")

    @classmethod
    def examples(cls) -> list[str]:
        return ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]


class Md5Hash(HashType):
    """MD5 of the file bytes, as ThreatExchange's ``md5`` and ``video_md5`` signal types."""

    name = "md5"
    _pattern = re.compile(r"[0-9a-f]{32}")

    @classmethod
    def examples(cls) -> list[str]:
        return ["d41d8cd98f00b204e9800998ecf8427e"]


class VideoMd5Hash(Md5Hash):
    name = "video_md5"


class VpdqHash(HashType):
    """ThreatExchange's vPDQ video hash in pytx's text form (``plugin.video.vpdq_hash``).

    Distance is ``100 - query_pct`` (share of the first clip's frames found in the second), so
    the default threshold 20 is HMA's 80 % query match.
    """

    name = "vpdq"
    default_threshold = 20

    @classmethod
    def canonical(cls, value: str) -> str:
        from plugin.video.vpdq_hash import canonical_vpdq  # the codec is stdlib-only

        return canonical_vpdq(value)

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        from plugin.video.matching import match_pair
        from plugin.video.vpdq_hash import parse_vpdq

        query_pct, _ = match_pair(parse_vpdq(a), parse_vpdq(b))
        return round(100 - query_pct)

    @classmethod
    def examples(cls) -> list[str]:
        frames = [f"{h},100,{t}.000" for t, h in enumerate(PdqHash.examples())]
        return ["[" + ", ".join(f'"{f}"' for f in frames) + "]"]


_REGISTRY: dict[str, type[HashType]] = {}


def register(cls: type[HashType]) -> type[HashType]:
    if cls.name in _REGISTRY:
        raise ValueError(f"hash type {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


for _cls in (PdqHash, Sha256Hash, Md5Hash, VideoMd5Hash, VpdqHash):
    register(_cls)


def hash_type(name: str) -> type[HashType]:
    try:
        return _REGISTRY[name.strip().lower()]
    except KeyError:
        raise BadRequest(
            f"unknown hash type {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def hash_type_names() -> list[str]:
    return sorted(_REGISTRY)

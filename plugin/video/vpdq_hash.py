"""vPDQ: ThreatExchange's video hash, its text form, and computing it in a child process.

A vPDQ hash is a list of frame features: the PDQ hash of one frame every ``seconds_per_hash``
(1 s by default), its PDQ quality (0..100) and its timestamp. We write it exactly as pytx and
HMA 2.0 do (``VpdqCompactFeature`` / ``vpdq_to_json``): a JSON list of ``"<pdq hex>,<quality>,
<timestamp>"`` strings, so banks exported from HMA import here and ours import there. We also
read the older pytx form (a JSON object keyed by frame number, ``{"quality", "hash",
"timestamp"}``, the hash as hex or as PDQ's sixteen 16-bit words ``{"w": [...]}``).

The canonical text (:func:`canonical_vpdq`) is what banks store and peers sign: pytx's layout
(``json.dumps`` of the strings), lower-case hex, timestamps with three decimals.

Hashing runs the real ``vpdq`` extension (libav decode + PDQ per sampled frame) in
``plugin/video/child.py`` under :func:`plugin.video.sandbox.run_limited`. This module's codec
half imports nothing but the standard library: ``plugin.hashing.types`` uses it.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin.errors import BadRequest

PDQ_HEX = re.compile(r"[0-9a-f]{64}")
TIMESTAMP_DECIMALS = 3
#: pytx's VPDQ_QUALITY_THRESHOLD and VPDQ_DISTANCE_THRESHOLD
QUALITY_THRESHOLD = 50
DISTANCE_THRESHOLD = 31
#: refuse absurd values before parsing them (a 1-hour clip at 1 fps is ~300 KB)
MAX_TEXT_CHARS = 4_000_000
CHILD = Path(__file__).with_name("child.py")


@dataclass(frozen=True)
class VpdqFeature:
    """One sampled frame: PDQ hex (64 lower-case hex digits), quality 0..100, seconds."""

    pdq: str
    quality: int
    timestamp: float

    def __str__(self) -> str:
        return f"{self.pdq},{self.quality},{self.timestamp:.{TIMESTAMP_DECIMALS}f}"

    @classmethod
    def checked(cls, pdq: Any, quality: Any, timestamp: Any) -> VpdqFeature:
        hex_ = str(pdq).strip().lower()
        if not PDQ_HEX.fullmatch(hex_):
            raise ValueError(f"malformed PDQ hash {str(pdq)[:70]!r}")
        q = int(quality)
        if not 0 <= q <= 100 or str(quality).strip() not in (str(q), f"{q}.0"):
            raise ValueError(f"quality must be an integer 0..100, got {quality!r}")
        t = round(float(timestamp), TIMESTAMP_DECIMALS)
        if not 0.0 <= t < 1e9:
            raise ValueError(f"timestamp must be >= 0 seconds, got {timestamp!r}")
        return cls(hex_, q, t)

    @classmethod
    def from_str(cls, text: str) -> VpdqFeature:
        parts = text.split(",")
        if len(parts) != 3:
            raise ValueError(f"expected 'pdq,quality,timestamp', got {text[:90]!r}")
        return cls.checked(*parts)


def words_to_hex(words: list[int]) -> str:
    """PDQ's ``Hash256`` words (w[0] least significant) as hex, as ``Hash256::format`` does."""
    if len(words) != 16 or not all(isinstance(w, int) and 0 <= w < 65536 for w in words):
        raise ValueError("a Hash256 has sixteen 16-bit words")
    return "".join(f"{w:04x}" for w in reversed(words))


def parse_vpdq(text: str) -> list[VpdqFeature]:
    """Parse either pytx form into features; ``ValueError`` says what is wrong."""
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"vPDQ text of {len(text)} characters is over {MAX_TEXT_CHARS}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg}") from None
    if isinstance(data, list):
        if not all(isinstance(item, str) for item in data):
            raise ValueError("a vPDQ list holds 'pdq,quality,timestamp' strings")
        features = [VpdqFeature.from_str(item) for item in data]
    elif isinstance(data, dict):
        features = _parse_legacy(data)
    else:
        raise ValueError("a vPDQ hash is a JSON list (or pytx's older JSON object)")
    if not features:
        raise ValueError("a vPDQ hash needs at least one frame")
    return features


def _parse_legacy(data: dict[str, Any]) -> list[VpdqFeature]:
    rows = []
    for key, item in data.items():
        if not str(key).isdigit() or not isinstance(item, dict):
            raise ValueError("the older vPDQ form maps frame numbers to feature objects")
        raw = item.get("hash")
        pdq = words_to_hex(raw.get("w", [])) if isinstance(raw, dict) else raw
        rows.append((int(key), VpdqFeature.checked(pdq, item.get("quality"),
                                                   item.get("timestamp"))))
    return [feature for _, feature in sorted(rows, key=lambda r: r[0])]


def serialize_vpdq(features: list[VpdqFeature]) -> str:
    """pytx's ``vpdq_to_json``: a JSON list of ``"pdq,quality,timestamp"`` strings."""
    return json.dumps([str(f) for f in features])


def canonical_vpdq(text: str) -> str:
    """Validate and rewrite a vPDQ hash in canonical form; ``BadRequest`` when malformed."""
    try:
        return serialize_vpdq(parse_vpdq(text))
    except ValueError as exc:
        raise BadRequest(f"not a valid vpdq hash: {exc}") from None


def prepare_for_matching(features: list[VpdqFeature],
                         min_quality: int = QUALITY_THRESHOLD) -> list[VpdqFeature]:
    """pytx's ``prepare_vpdq_feature``: drop frames under the quality floor, then repeats."""
    seen: set[str] = set()
    out = []
    for f in features:
        if f.quality >= min_quality and f.pdq not in seen:
            seen.add(f.pdq)
            out.append(f)
    return out


def features_from_rows(rows: list[dict[str, Any]]) -> list[VpdqFeature]:
    """Features from ``pdq_frames``-style dicts (``{"pdq", "quality", "timestamp"}``)."""
    return [VpdqFeature.checked(r["pdq"], r["quality"], r["timestamp"]) for r in rows]


def compute_vpdq(path: Path, *, timeout_s: float, seconds_per_hash: float = 1.0,
                 memory_bytes: int | None = None) -> list[VpdqFeature]:
    """Hash a video file with the ``vpdq`` extension in a limited child process."""
    from plugin.errors import UndecodableMedia
    from plugin.video.sandbox import DEFAULT_MEMORY_BYTES, run_limited

    result = run_limited(
        [sys.executable, "-I", str(CHILD), "vpdq", str(path), repr(float(seconds_per_hash))],
        timeout_s=timeout_s, what="vPDQ hashing",
        memory_bytes=DEFAULT_MEMORY_BYTES if memory_bytes is None else memory_bytes)
    try:
        rows = json.loads(result.stdout)
        return [VpdqFeature.checked(*row) for row in rows]
    except (ValueError, TypeError) as exc:
        raise UndecodableMedia(f"vPDQ hasher returned nonsense: {exc}") from None

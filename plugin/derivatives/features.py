"""Local-feature fingerprints of a picture, for finding edited copies of it.

Why: a whole-image hash (PDQ) describes the picture as one thing, so cropping 5 % or
painting over a quarter of it moves the hash far away. An AI "edit" keeps much of the photo
(face, background) and regenerates the rest; what survives is *local* structure. We therefore
describe a picture by a bounded set of ORB keypoints (position + 256-bit binary descriptor),
spread over the whole frame so that replacing one region leaves most of them intact.

The same extractor serves both sides:

* protected pictures keep at most :data:`PROTECTED_FEATURES` keypoints (the index cost);
* queries keep up to :data:`QUERY_FEATURES` (more keypoints only cost query time) and are
  extracted twice, once from the mirrored image, because ORB descriptors are not
  mirror-invariant.

Images are first reduced to grey and scaled so the long side is :data:`CANONICAL_SIDE`
pixels (small images are scaled *up*), which removes most of the scale difference between a
re-post and its original before ORB's own 8-level pyramid handles the rest.

The serialised form (:meth:`Fingerprint.to_bytes`) is a small, versioned, checksummed binary
layout (no pickle) meant for a database blob and for exchange with peer servers.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

CANONICAL_SIDE = 512
PROTECTED_FEATURES = 500
QUERY_FEATURES = 1000
DESCRIPTOR_BYTES = 32
GRID = 8
_FAST_THRESHOLDS = (12, 5, 2)
_CANDIDATES = 20000
_MIN_SIDE = 32

_MAGIC = b"CDF"
_VERSION = 1
_HEADER = struct.Struct("<3sBHHHHH")  # magic, version, w, h, source w, source h, count
_XY_SCALE = 8.0  # keypoint coordinates stored as uint16 in 1/8 pixel


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """ORB keypoints of one picture at canonical scale.

    Attributes:
        width: width of the canonical (rescaled, grey) image the keypoints refer to.
        height: its height.
        source_width: width of the picture as given (capped at 65535), to map regions back.
        source_height: its height.
        xy: ``float32`` array of shape ``(n, 2)``, keypoint positions in canonical pixels.
        descriptors: ``uint8`` array of shape ``(n, 32)``, the 256-bit ORB descriptors,
            row ``i`` belonging to ``xy[i]``.
        geo: ``uint8`` array of shape ``(n,)``: keypoint orientation in 16 sectors (high
            nibble) and ORB pyramid octave (low nibble), for weak geometric consistency
            voting in the first stage (see :mod:`plugin.derivatives.index`).

    ``n`` may be 0 (flat or tiny pictures): such a fingerprint matches nothing.
    Instances are immutable values; use :meth:`to_bytes` / :meth:`from_bytes` to store them.
    """

    width: int
    height: int
    source_width: int
    source_height: int
    xy: np.ndarray
    descriptors: np.ndarray
    geo: np.ndarray

    def __len__(self) -> int:
        return int(self.descriptors.shape[0])

    def to_bytes(self) -> bytes:
        """Serialise: ``b"CDF" | version | w | h | src w | src h | n | xy | desc | geo | crc32``.

        Little-endian; ``xy`` as ``uint16`` in 1/8 canonical pixel, descriptors raw.
        37 bytes per keypoint plus 18 bytes (≈ 18.5 KB for 500 keypoints).
        """
        n = len(self)
        xy = np.clip(np.rint(self.xy * _XY_SCALE), 0, 65535).astype("<u2")
        body = (
            _HEADER.pack(
                _MAGIC,
                _VERSION,
                self.width,
                self.height,
                min(self.source_width, 65535),
                min(self.source_height, 65535),
                n,
            )
            + xy.tobytes()
            + np.ascontiguousarray(self.descriptors, dtype=np.uint8).tobytes()
            + np.ascontiguousarray(self.geo, dtype=np.uint8).tobytes()
        )
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, blob: bytes) -> Fingerprint:
        """Parse :meth:`to_bytes` output.

        Raises:
            ValueError: the blob is truncated, corrupted (checksum mismatch), not a
                fingerprint, or of a version this code does not understand.
        """
        blob = bytes(blob)
        if len(blob) < _HEADER.size + 4:
            raise ValueError("fingerprint blob too short")
        magic, version, width, height, src_w, src_h, n = _HEADER.unpack_from(blob)
        if magic != _MAGIC:
            raise ValueError("not a derivative fingerprint")
        if version != _VERSION:
            raise ValueError(f"unsupported fingerprint version {version}")
        expected = _HEADER.size + n * (4 + DESCRIPTOR_BYTES + 1) + 4
        if len(blob) != expected:
            raise ValueError("fingerprint blob has the wrong length")
        (crc,) = struct.unpack_from("<I", blob, len(blob) - 4)
        if zlib.crc32(blob[:-4]) != crc:
            raise ValueError("fingerprint blob checksum mismatch")
        off = _HEADER.size
        xy = np.frombuffer(blob, dtype="<u2", count=2 * n, offset=off).reshape(n, 2)
        desc = np.frombuffer(blob, dtype=np.uint8, count=n * DESCRIPTOR_BYTES, offset=off + 4 * n)
        return cls(
            width=width,
            height=height,
            source_width=src_w,
            source_height=src_h,
            xy=(xy.astype(np.float32) / _XY_SCALE),
            descriptors=desc.reshape(n, DESCRIPTOR_BYTES).copy(),
            geo=np.frombuffer(
                blob, np.uint8, count=n, offset=off + (4 + DESCRIPTOR_BYTES) * n
            ).copy(),
        )


def canonical_gray(image: Image.Image) -> np.ndarray:
    """Grey ``uint8`` array of ``image`` scaled so its long side is :data:`CANONICAL_SIDE`.

    Returns an empty ``(0, 0)`` array for images too small to carry local features.
    """
    if image.mode != "L":
        image = image.convert("RGB").convert("L")
    w, h = image.size
    if min(w, h) < _MIN_SIDE:
        return np.zeros((0, 0), dtype=np.uint8)
    gray = np.asarray(image, dtype=np.uint8)
    scale = CANONICAL_SIDE / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(gray, size, interpolation=interp)


def _spread(keypoints: list, width: int, height: int, budget: int) -> list:
    """Keep ``budget`` keypoints, best-response first *within each grid cell*, cells in turn.

    Plain ORB keeps the strongest corners, which cluster on the most textured object; if an
    edit replaces that object all evidence goes with it. Round-robin over a GRID×GRID grid
    keeps evidence everywhere the picture has any texture.
    """
    if len(keypoints) <= budget:
        return keypoints
    pts = cv2.KeyPoint_convert(keypoints).reshape(-1, 2)
    resp = np.fromiter((k.response for k in keypoints), np.float32, len(keypoints))
    cx = np.minimum((pts[:, 0] * GRID / max(width, 1)).astype(np.int32), GRID - 1)
    cy = np.minimum((pts[:, 1] * GRID / max(height, 1)).astype(np.int32), GRID - 1)
    cell = cy * GRID + cx
    order = np.lexsort((-resp, cell))  # by cell, strongest first
    sorted_cells = cell[order]
    starts = np.searchsorted(sorted_cells, sorted_cells, side="left")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - starts
    keep = np.lexsort((-resp, rank))[:budget]
    return [keypoints[i] for i in keep]


Features = tuple[np.ndarray, np.ndarray, np.ndarray]  # xy (n,2), descriptors (n,32), geo (n,)


def _empty() -> Features:
    return (
        np.zeros((0, 2), np.float32),
        np.zeros((0, DESCRIPTOR_BYTES), np.uint8),
        np.zeros(0, np.uint8),
    )


def _geo(keypoints: list) -> np.ndarray:
    """Pack orientation sector (16 x 22.5 degrees) and pyramid octave into one byte each."""
    angle = np.fromiter((k.angle for k in keypoints), np.float32, len(keypoints))
    octave = np.fromiter((k.octave & 0xFF for k in keypoints), np.int32, len(keypoints))
    sector = (np.floor(angle / 22.5).astype(np.int32)) % 16
    return ((sector << 4) | np.minimum(octave, 15)).astype(np.uint8)


def _detect(gray: np.ndarray, budget: int) -> tuple[object, list]:
    """Detect keypoints, lowering the FAST threshold on low-contrast pictures.

    ORB is asked for many candidates (:data:`_CANDIDATES`) so that a high-contrast region
    (noise, text) cannot crowd out the rest of the frame before :func:`_spread` picks.
    """
    orb, keypoints = None, []
    for threshold in _FAST_THRESHOLDS:
        orb = cv2.ORB_create(nfeatures=_CANDIDATES, fastThreshold=threshold, edgeThreshold=31)
        keypoints = list(orb.detect(gray, None))
        if len(keypoints) >= budget:
            break
    h, w = gray.shape
    return orb, _spread(keypoints, w, h, budget)


def _describe(orb: object, gray: np.ndarray, keypoints: list) -> Features:
    if not keypoints:
        return _empty()
    keypoints, desc = orb.compute(gray, keypoints)  # type: ignore[attr-defined]
    if desc is None or not keypoints:
        return _empty()
    xy = cv2.KeyPoint_convert(keypoints).reshape(-1, 2).astype(np.float32)
    return xy, np.ascontiguousarray(desc, dtype=np.uint8), _geo(keypoints)


def extract(gray: np.ndarray, budget: int) -> Features:
    """ORB keypoints of a canonical grey image: ``(xy (n,2), descriptors (n,32), geo (n,))``.

    The FAST threshold is lowered step by step on low-contrast pictures so that smooth
    photos (sky, dunes) still yield keypoints; a flat picture yields none.
    """
    if gray.size == 0 or min(gray.shape) < _MIN_SIDE:
        return _empty()
    orb, keypoints = _detect(gray, budget)
    return _describe(orb, gray, keypoints)


def extract_both(gray: np.ndarray, budget: int) -> tuple[Features, Features]:
    """Features of ``gray`` and of its left-right mirror image, detected once.

    FAST and the Harris score are mirror-symmetric, so the mirrored keypoints are the
    original ones with ``x -> w-1-x`` and ``angle -> 180-angle``; only the descriptors are
    recomputed on the mirrored pixels (identical to detecting on the mirror, at ~1/3 cost).
    """
    if gray.size == 0 or min(gray.shape) < _MIN_SIDE:
        return _empty(), _empty()
    orb, keypoints = _detect(gray, budget)
    plain = _describe(orb, gray, keypoints)
    w = gray.shape[1]
    mirrored_kp = [
        cv2.KeyPoint(
            w - 1 - k.pt[0],
            k.pt[1],
            k.size,
            (180.0 - k.angle) % 360.0,
            k.response,
            k.octave,
            k.class_id,
        )
        for k in keypoints
    ]
    mirrored = _describe(orb, np.ascontiguousarray(gray[:, ::-1]), mirrored_kp)
    return plain, mirrored


def fingerprint(image: Image.Image, budget: int = PROTECTED_FEATURES) -> Fingerprint:
    """Fingerprint a decoded picture for registration as *protected*.

    Args:
        image: the decoded picture (any PIL mode; converted to grey internally).
        budget: maximum number of keypoints kept (default :data:`PROTECTED_FEATURES`).

    Returns:
        A :class:`Fingerprint` with at most ``budget`` keypoints; empty for tiny or flat
        pictures.
    """
    gray = canonical_gray(image)
    xy, desc, geo = extract(gray, budget)
    h, w = gray.shape if gray.size else (0, 0)
    return Fingerprint(
        width=int(w),
        height=int(h),
        source_width=image.size[0],
        source_height=image.size[1],
        xy=xy,
        descriptors=desc,
        geo=geo,
    )

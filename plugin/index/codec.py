"""PDQ code conversions and input validation for the hash index.

Why a module of its own: every entry point of the index (add, search, the hex helpers) must
reject malformed input with a clear ``ValueError`` *before* anything touches the tables, and the
byte layout of a code must be defined in exactly one place.

Layout: a PDQ code is 256 bits. ThreatExchange, pdqhash and HMA print it as 64 hex digits,
most significant first, where bit 0 of pdqhash's ``hash_vector`` is the top bit of the first hex
digit. We store a code as ``uint8[32]`` in that same big-endian order, so
``bytes.fromhex(hex64)`` *is* the code and ``np.packbits(hash_vector)`` gives the same bytes.
Hamming distance does not depend on the layout, only on using one layout consistently.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

CODE_BITS = 256
CODE_BYTES = CODE_BITS // 8
HEX_LEN = CODE_BITS // 4

_HEX_RE = re.compile(r"[0-9a-fA-F]{64}")


def pdq_hex_to_bytes(hex64: str) -> np.ndarray:
    """Parse a canonical 64-digit PDQ hex string into a ``uint8 (32,)`` code.

    Upper-case digits are accepted (and normalised); anything else that is not exactly 64 hex
    digits -- whitespace, ``0x`` prefixes, odd lengths -- raises ``ValueError``.
    """
    if not isinstance(hex64, str):
        raise ValueError(f"PDQ hex must be a str, got {type(hex64).__name__}")
    if _HEX_RE.fullmatch(hex64) is None:
        shown = hex64 if len(hex64) <= 80 else hex64[:77] + "..."
        raise ValueError(
            f"PDQ hex must be exactly {HEX_LEN} hex digits [0-9a-f], got {len(hex64)} chars: "
            f"{shown!r}"
        )
    return np.frombuffer(bytes.fromhex(hex64), dtype=np.uint8).copy()


def pdq_bytes_to_hex(code: np.ndarray) -> str:
    """Format a ``uint8 (32,)`` code as the canonical lower-case 64-digit PDQ hex string."""
    return as_code(code).tobytes().hex()


def pdq_bits_to_bytes(bits: np.ndarray) -> np.ndarray:
    """Pack pdqhash's 256-entry 0/1 ``hash_vector`` into a ``uint8 (32,)`` code."""
    arr = np.asarray(bits)
    if arr.shape != (CODE_BITS,):
        raise ValueError(f"PDQ bit vector must have shape ({CODE_BITS},), got {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise ValueError(f"PDQ bit vector must be integer or bool, got dtype {arr.dtype}")
    if arr.dtype != np.bool_ and ((arr < 0) | (arr > 1)).any():
        raise ValueError("PDQ bit vector entries must be 0 or 1")
    return np.packbits(arr.astype(np.uint8))


def as_code(code: Any) -> np.ndarray:
    """Validate one code: a ``uint8`` array of shape ``(32,)``; returns it C-contiguous."""
    if not isinstance(code, np.ndarray):
        raise ValueError(f"PDQ code must be a numpy uint8 array, got {type(code).__name__}")
    if code.dtype != np.uint8:
        raise ValueError(f"PDQ code must have dtype uint8, got {code.dtype}")
    if code.shape != (CODE_BYTES,):
        raise ValueError(f"PDQ code must have shape ({CODE_BYTES},), got {code.shape}")
    return np.ascontiguousarray(code)


def as_codes(codes: Any, what: str = "codes") -> np.ndarray:
    """Validate a batch of codes: ``uint8`` of shape ``(n, 32)``; returns it C-contiguous."""
    if not isinstance(codes, np.ndarray):
        raise ValueError(f"{what} must be a numpy uint8 array, got {type(codes).__name__}")
    if codes.dtype != np.uint8:
        raise ValueError(f"{what} must have dtype uint8, got {codes.dtype}")
    if codes.ndim != 2 or codes.shape[1] != CODE_BYTES:
        raise ValueError(f"{what} must have shape (n, {CODE_BYTES}), got {codes.shape}")
    return np.ascontiguousarray(codes)


def as_ids(ids: Any) -> np.ndarray:
    """Validate ids: a 1-d array of integers that fit in int64; returns them as int64.

    No copy is made for int64 input: callers must not modify the result in place.
    """
    if not isinstance(ids, np.ndarray):
        raise ValueError(f"ids must be a numpy int64 array, got {type(ids).__name__}")
    if ids.ndim != 1:
        raise ValueError(f"ids must have shape (n,), got {ids.shape}")
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must have an integer dtype (int64), got {ids.dtype}")
    if ids.dtype == np.uint64 and ids.size and int(ids.max()) > np.iinfo(np.int64).max:
        raise ValueError("ids must fit in int64")
    return ids.astype(np.int64, copy=False)


def as_radius(radius: Any) -> int:
    """Validate a search radius: an integer in ``0..256``."""
    if isinstance(radius, (bool, np.bool_)) or not isinstance(radius, (int, np.integer)):
        raise ValueError(f"radius must be an int, got {type(radius).__name__}")
    if not 0 <= int(radius) <= CODE_BITS:
        raise ValueError(f"radius must be in 0..{CODE_BITS}, got {radius}")
    return int(radius)


def to_words(codes_u8: np.ndarray) -> np.ndarray:
    """View contiguous ``uint8 (n, 32)`` codes as ``uint64 (n, 4)`` (copying only if misaligned)."""
    arr = np.ascontiguousarray(codes_u8)
    if arr.ctypes.data % 8:
        arr = arr.copy()
    return arr.view(np.uint64)

"""Registering a picture as protected: fingerprint plus whole-image hashes, one row.

The fingerprint (``plugin.derivatives``) is what finds crops and partly repainted copies; the
PDQ and SHA-256 travel in consent records to peers and answer ``consent/check?pdq=`` lookups.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from plugin.derivatives import fingerprint
from plugin.hashing.image_hashes import hash_image
from plugin.media.decode import decode_image
from plugin.storage.protected_store import ProtectedInput, ProtectedStore


def picture_input(data: bytes, image: Image.Image | None, *, owner: str, source: str,
                  max_pixels: int, **extra: Any) -> ProtectedInput:
    """The row for one picture's bytes (decoded here unless the caller already did)."""
    if image is None:
        image = decode_image(data, max_pixels=max_pixels).image
    hashes = hash_image(data, image)
    return ProtectedInput(owner=owner, source=source, fingerprint=fingerprint(image).to_bytes(),
                          sha256=hashes.sha256, pdq=hashes.pdq,
                          pdq_quality=hashes.pdq_quality, **extra)


def register_bytes(store: ProtectedStore, data: bytes, *, owner: str, source: str,
                   max_pixels: int, image: Image.Image | None = None,
                   **extra: Any) -> tuple[dict[str, Any], bool]:
    """Protect one picture; returns (row, created)."""
    return store.protected_add(picture_input(data, image, owner=owner, source=source,
                                             max_pixels=max_pixels, **extra))

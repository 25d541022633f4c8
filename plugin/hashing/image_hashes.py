"""Compute every image hash from one decoded image and the original bytes.

PDQ runs on the working-resolution RGB image (see ``plugin.media.decode``): the PDQ algorithm
filters to 64×64 anyway, so hashing a 1024-px decode instead of a 10 MP one changes a few bits
at most while costing ~1/20 of the time (``bench/hashing.py`` measures both). All 8 dihedral
hashes (rotations and mirrors) are kept so a mirrored re-post still matches a bank entry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image


@dataclass(frozen=True)
class ImageHashes:
    sha256: str
    md5: str
    pdq: str
    pdq_quality: int
    pdq_dihedral: list[str]

    def to_dict(self) -> dict[str, object]:
        return {"sha256": self.sha256, "md5": self.md5, "pdq": self.pdq,
                "pdq_quality": self.pdq_quality, "pdq_dihedral": self.pdq_dihedral}


def bits_to_hex(bits: np.ndarray) -> str:
    """pdqhash returns 256 bits, most significant first; write them as canonical PDQ hex."""
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def pdq_of(image: Image.Image) -> tuple[list[str], int]:
    """The 8 dihedral PDQ hashes (the first is the original orientation) and the quality."""
    array = np.asarray(image.convert("RGB"))
    hashes, quality = pdqhash.compute_dihedral(array)
    return [bits_to_hex(h) for h in hashes], int(quality)


def file_digests(data: bytes) -> tuple[str, str]:
    return hashlib.sha256(data).hexdigest(), hashlib.md5(data, usedforsecurity=False).hexdigest()


def hash_image(data: bytes, image: Image.Image) -> ImageHashes:
    sha256, md5 = file_digests(data)
    dihedral, quality = pdq_of(image)
    return ImageHashes(sha256=sha256, md5=md5, pdq=dihedral[0], pdq_quality=quality,
                       pdq_dihedral=dihedral)

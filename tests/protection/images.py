"""Synthetic edits of corpus photos: a crop with a replaced region (what an AI in-paint does)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from tests.conftest import corpus_photo


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def edited(n: int, patch_from: int = 20) -> bytes:
    """Corpus photo ``n`` cropped to its central 70 % with a quarter replaced by another photo."""
    img = Image.open(corpus_photo(n)).convert("RGB")
    w, h = img.size
    img = img.crop((int(w * 0.15), int(h * 0.1), int(w * 0.85), int(h * 0.8)))
    other = Image.open(corpus_photo(patch_from)).convert("RGB")
    pw, ph = img.width // 3, img.height // 3
    img.paste(other.resize((pw, ph)), (img.width - pw - 10, 10))
    return jpeg(img)


def original(n: int) -> bytes:
    return Path(corpus_photo(n)).read_bytes()

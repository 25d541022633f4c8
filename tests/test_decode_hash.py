"""Decoding under caps, and PDQ hashing on the decoded image."""

from __future__ import annotations

import io

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageOps

from plugin.errors import MediaTooLarge, UndecodableMedia, UnsupportedMedia
from plugin.hashing.image_hashes import hash_image, pdq_of
from plugin.hashing.types import PdqHash
from plugin.media.decode import decode_image
from tests.conftest import corpus_photo

CAP = 50_000_000


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def test_decoded_hash_matches_a_full_resolution_plain_pdqhash():
    for n in (1, 20, 40, 60):
        data = corpus_photo(n).read_bytes()
        ours = hash_image(data, decode_image(data, max_pixels=CAP).image)
        bits, _ = pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
        plain = np.packbits(bits.astype(np.uint8)).tobytes().hex()
        assert PdqHash.distance(ours.pdq, plain) <= 8


def test_large_jpeg_is_decoded_at_working_size():
    big = Image.open(corpus_photo(20)).convert("RGB").resize((4000, 3000))
    decoded = decode_image(encode(big, "JPEG", quality=90), max_pixels=CAP)
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert 768 <= max(decoded.image.size) <= 1024  # decoded at 1/4 scale in the DCT


def test_mirror_matches_through_the_dihedral_hashes():
    img = Image.open(corpus_photo(14)).convert("RGB")
    original, _ = pdq_of(img)
    mirrored, _ = pdq_of(ImageOps.mirror(img))
    assert PdqHash.distance(original[0], mirrored[0]) > 31
    assert min(PdqHash.distance(original[0], h) for h in mirrored) <= 10


@pytest.mark.parametrize("mode", ["CMYK", "P", "L", "LA", "RGBA", "I;16", "1"])
def test_unusual_modes_decode_to_rgb(mode):
    img = Image.open(corpus_photo(3)).convert("RGB")
    converted = img.convert(mode) if mode != "I;16" else img.convert("L").convert("I;16")
    fmt = "TIFF" if mode in ("CMYK", "I;16") else "PNG"
    decoded = decode_image(encode(converted, fmt), max_pixels=CAP)
    assert decoded.image.mode == "RGB"


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    decoded = decode_image(encode(img, "JPEG", exif=exif), max_pixels=CAP)
    assert decoded.image.size == (20, 40)


def test_decompression_bomb_is_refused_before_decoding():
    bomb = encode(Image.new("1", (20000, 20000)), "PNG")
    assert len(bomb) < 100_000
    with pytest.raises(MediaTooLarge, match="pixels"):
        decode_image(bomb, max_pixels=CAP)


@pytest.mark.parametrize("data, error", [
    (b"", UndecodableMedia), (b"\xff\xd8\xff\xe0garbage", UndecodableMedia),
    (b"plain text, not an image", UnsupportedMedia),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", UnsupportedMedia),
    (b"GIF89a\x01\x00", UnsupportedMedia),
])
def test_broken_inputs_raise_media_errors(data, error):
    with pytest.raises(error):
        decode_image(data, max_pixels=CAP)


def test_truncated_jpeg_is_undecodable():
    data = corpus_photo(1).read_bytes()
    with pytest.raises(UndecodableMedia):
        decode_image(data[: len(data) // 3], max_pixels=CAP)


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP"])
def test_truncated_files_of_other_formats_are_undecodable(fmt):
    data = encode(Image.open(corpus_photo(5)).convert("RGB"), fmt)
    with pytest.raises(UndecodableMedia):
        decode_image(data[: len(data) // 2], max_pixels=CAP)

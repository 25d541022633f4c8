"""Decode an image once, safely, into the form every hash and classifier consumes.

Pillow opens a file lazily: we read its header, check the type and the pixel count against
the caps *before* decoding (a decompression bomb is a tiny file with huge dimensions), then
decode. For JPEG we let libjpeg scale in the DCT (``Image.draft``): a 10 MP photo decodes at
1/4 or 1/8 size in a fraction of the time, and nothing downstream needs more than
``work_size`` (1024) pixels on the long side: the classifiers take 192–320 px and the
derivative matcher 512 px. PDQ is the most demanding consumer: HMA and python-threatexchange
hash the full-resolution image, and at 1024 px our PDQ stays within a few bits of theirs
(mean 5 bits on 10 MP photos, ``bench/hashing.py``), while at 512 px it drifts by ~10.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from plugin.errors import MediaTooLarge, UndecodableMedia, UnsupportedMedia

DECODABLE_FORMATS = {"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "MPO"}
WORK_SIZE = 1024
DRAFT_FRACTION = 0.75


@dataclass(frozen=True)
class DecodedImage:
    """An RGB image at working resolution plus what we learnt about the original."""

    image: Image.Image
    format: str
    width: int
    height: int
    frames: int


def decode_image(data: bytes, *, max_pixels: int, work_size: int = WORK_SIZE) -> DecodedImage:
    if not data:
        raise UndecodableMedia("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or "unknown"
            if fmt not in DECODABLE_FORMATS:
                raise UnsupportedMedia(f"image format {fmt} is not decoded")
            width, height = img.size
            if width <= 0 or height <= 0:
                raise UndecodableMedia("image has no pixels")
            if width * height > max_pixels:
                raise MediaTooLarge(
                    f"image is {width}x{height} = {width * height} pixels, over the cap of "
                    f"{max_pixels}"
                )
            frames = getattr(img, "n_frames", 1)
            if fmt == "JPEG":
                # libjpeg scales by 1/2, 1/4 or 1/8 in the DCT. Asking for a long side of
                # 3/4 of work_size lets a 4,000-px photo decode at 1/4 (1,000 px) rather than
                # 1/2 (2,000 px, then shrunk): 20 ms instead of 55 ms for 10 MP, same hash.
                long_side, draft = max(width, height), int(work_size * DRAFT_FRACTION)
                img.draft("RGB", (-(-draft * width // long_side),
                                  -(-draft * height // long_side)))
            img.load()
            img = ImageOps.exif_transpose(img) or img
            if img.mode != "RGB":
                img = _to_rgb(img)
            if max(img.size) > work_size:
                img.thumbnail((work_size, work_size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    except (UnsupportedMedia, MediaTooLarge, UndecodableMedia):
        raise
    except Image.DecompressionBombError as exc:
        raise MediaTooLarge(f"decompression bomb refused: {exc}") from None
    except Image.DecompressionBombWarning as exc:
        raise MediaTooLarge(f"decompression bomb refused: {exc}") from None
    except UnidentifiedImageError:
        raise UnsupportedMedia("not an image we can identify") from None
    except Exception as exc:  # Pillow's parsers raise IndexError, TypeError, struct.error...
        # on hostile bytes (found by tests/fuzz); any of them means this file, not a bug to retry
        raise UndecodableMedia(f"broken image data: {exc}") from None
    return DecodedImage(image=img, format=fmt, width=width, height=height, frames=frames)


def _to_rgb(img: Image.Image) -> Image.Image:
    """Flatten alpha onto white and normalise 16-bit, CMYK, palette and grey modes to RGB."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda v: v / 256).convert("L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        return background
    return img.convert("RGB")

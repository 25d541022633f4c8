"""Previews for moderators: fetched through the media fetcher, re-encoded, blurred by default.

The browser never receives the original bytes: a preview is decoded and re-encoded here (no
hostile file reaches the moderator's browser, metadata is dropped), downscaled, and — unless
the moderator asked to reveal this one item — converted to greyscale and blurred server-side,
so the clear picture is not even in the browser's cache until it is asked for. Videos are
never auto-played: only a still image is ever sent.
"""

from __future__ import annotations

import base64
import io

from PIL import ImageFilter, ImageOps

from plugin.media.decode import decode_image
from plugin.media.fetch import FetchPolicy, fetch_media
from plugin.settings import Settings

PREVIEW_SIDE = 640
BLUR_RADIUS = 28


def _policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy.from_settings(settings)


def fetch_original(settings: Settings, url: str) -> str:
    """The media bytes as base64 (for sealed evidence)."""
    return base64.b64encode(fetch_media(url, _policy(settings)).data).decode()


def render_preview(data: bytes, *, reveal: bool, max_pixels: int) -> bytes:
    image = decode_image(data, max_pixels=max_pixels).image
    image = ImageOps.contain(image, (PREVIEW_SIDE, PREVIEW_SIDE))
    if not reveal:
        image = ImageOps.grayscale(image).filter(ImageFilter.GaussianBlur(BLUR_RADIUS))
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


def preview(settings: Settings, url: str, *, reveal: bool) -> bytes:
    fetched = fetch_media(url, _policy(settings))
    return render_preview(fetched.data, reveal=reveal, max_pixels=settings.media_max_pixels)

"""Turn one decoded RGB image into a model's input tensor, as the manifest describes.

The caller decodes once; each model only resizes (PIL or OpenCV, on the already decoded
pixels), crops or letterboxes, swaps colour order and normalises. Each step reproduces the
reference implementation of the shipped models exactly, so our scores equal theirs. The
returned :class:`Transform` maps model-input pixels back to source pixels for detector boxes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from plugin.classifiers.interfaces import ImageLike
from plugin.classifiers.manifest import InputSpec


@dataclass(frozen=True)
class Transform:
    """source_x = (input_x - ox) / sx; likewise for y. ``width``/``height``: source size."""

    sx: float
    sy: float
    ox: float
    oy: float
    width: int
    height: int


def to_pil(image: ImageLike) -> Image.Image:
    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else image.convert("RGB")
    return Image.fromarray(to_array(image))


def to_array(image: ImageLike) -> np.ndarray:
    """An HxWx3 uint8 RGB array (no copy when given one)."""
    if isinstance(image, Image.Image):
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ValueError(f"image arrays must be uint8, got {arr.dtype}")
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        return arr[:, :, :3]
    raise ValueError(f"image arrays must be HxW or HxWx3/4, got shape {arr.shape}")


def _resize(image: ImageLike, size: tuple[int, int], resampler: str) -> np.ndarray:
    if resampler == "pil_bilinear":
        return np.asarray(to_pil(image).resize(size, resample=Image.Resampling.BILINEAR))
    import cv2  # optional: only manifests that ask for OpenCV resizing need it

    interp = cv2.INTER_LINEAR if resampler == "cv2_linear" else cv2.INTER_AREA
    return cv2.resize(np.ascontiguousarray(to_array(image)), size, interpolation=interp)


def _size(image: ImageLike) -> tuple[int, int]:
    if isinstance(image, Image.Image):
        return image.size
    return int(image.shape[1]), int(image.shape[0])


def _stretch(image: ImageLike, spec: InputSpec) -> tuple[np.ndarray, Transform]:
    w, h = _size(image)
    rw, rh = spec.resize_to or (spec.width, spec.height)
    arr = _resize(image, (rw, rh), spec.resampler)
    ox, oy = (rw - spec.width) // 2, (rh - spec.height) // 2
    if (ox, oy) != (0, 0) or (rw, rh) != (spec.width, spec.height):
        arr = arr[oy : oy + spec.height, ox : ox + spec.width]
    return arr, Transform(rw / w, rh / h, -ox, -oy, w, h)


def _offset(spec: InputSpec, free_x: int, free_y: int) -> tuple[int, int]:
    return (0, 0) if spec.pad == "bottom_right" else (free_x // 2, free_y // 2)


def _letterbox(image: ImageLike, spec: InputSpec) -> tuple[np.ndarray, Transform]:
    w, h = _size(image)
    if spec.pad_before_resize:  # NudeNet: pad the source to a square, then resize it
        side = max(w, h)
        px, py = _offset(spec, side - w, side - h)
        canvas = np.zeros((side, side, 3), dtype=np.uint8)
        canvas[py : py + h, px : px + w] = to_array(image)
        arr = _resize(canvas, (spec.width, spec.height), spec.resampler)
        sx, sy = spec.width / side, spec.height / side
        return arr, Transform(sx, sy, px * sx, py * sy, w, h)
    s = min(spec.width / w, spec.height / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    resized = _resize(image, (nw, nh), spec.resampler)
    px, py = _offset(spec, spec.width - nw, spec.height - nh)
    arr = np.zeros((spec.height, spec.width, 3), dtype=np.uint8)
    arr[py : py + nh, px : px + nw] = resized
    return arr, Transform(nw / w, nh / h, px, py, w, h)


def _jpeg_roundtrip(arr: np.ndarray, quality: int) -> np.ndarray:
    with io.BytesIO() as buf:
        Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="JPEG", quality=quality)
        buf.seek(0)
        with Image.open(buf) as img:
            return np.asarray(img.convert("RGB"))


def prepare(image: ImageLike, spec: InputSpec) -> tuple[np.ndarray, Transform]:
    """Resized/cropped/letterboxed HxWx3 uint8 RGB pixels plus the box transform."""
    if spec.resize == "letterbox":
        arr, tf = _letterbox(image, spec)
    else:
        arr, tf = _stretch(image, spec)
    if spec.jpeg_roundtrip_quality is not None:
        arr = _jpeg_roundtrip(arr, spec.jpeg_roundtrip_quality)
    return arr, tf


def normalise_into(out: np.ndarray, arr: np.ndarray, spec: InputSpec) -> None:
    """Write ``(pixel * scale - mean) / std`` in the model's colour order and layout."""
    if spec.colour == "BGR":
        arr = arr[:, :, ::-1]
    x = arr.astype(np.float32)
    if spec.scale != 1.0:
        x *= np.float32(spec.scale)
    if any(spec.mean):
        x -= np.asarray(spec.mean, dtype=np.float32)
    if any(v != 1.0 for v in spec.std):
        x /= np.asarray(spec.std, dtype=np.float32)
    out[...] = x.transpose(2, 0, 1) if spec.layout == "NCHW" else x


def make_batch(images: list[ImageLike], spec: InputSpec) -> tuple[np.ndarray, list[Transform]]:
    """One float32 batch tensor for ``images`` and each image's transform."""
    n = len(images)
    shape = (
        (n, 3, spec.height, spec.width)
        if spec.layout == "NCHW"
        else (n, spec.height, spec.width, 3)
    )
    batch = np.empty(shape, dtype=np.float32)
    transforms = []
    for i, image in enumerate(images):
        arr, tf = prepare(image, spec)
        normalise_into(batch[i], arr, spec)
        transforms.append(tf)
    return batch, transforms

"""Turn one decoded RGB image into a model's input tensor, as the manifest describes.

The caller decodes once; each model only resizes (PIL or OpenCV, on the already decoded
pixels), crops or letterboxes, swaps colour order and normalises. Each step reproduces the
reference implementation of the shipped models exactly, so our scores equal theirs. The
returned :class:`Transform` maps model-input pixels back to source pixels for detector boxes.

These few milliseconds per image are the part of the pipeline we control (inference is the
rest), so the hot paths take short cuts that are proven bit-identical to the plain recipe
(tests/classifiers/test_preprocess.py): resize only the crop box instead of resize-then-crop,
pad one black row instead of a whole square canvas, normalise channel by channel in place.
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


Pixels = np.ndarray | Image.Image  # HxWx3 uint8 RGB


def to_pil(image: ImageLike) -> Image.Image:
    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else image.convert("RGB")
    return Image.fromarray(to_array(image))


def to_array(image: ImageLike) -> np.ndarray:
    """An HxWx3 uint8 RGB array (no copy when given one; read-only when made from PIL)."""
    if isinstance(image, Image.Image):
        img = image if image.mode == "RGB" else image.convert("RGB")
        # one copy out of PIL; np.asarray(img) costs ~25% more for the same bytes
        return np.frombuffer(img.tobytes(), dtype=np.uint8).reshape(img.height, img.width, 3)
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


def _pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _stretch(image: ImageLike, spec: InputSpec) -> tuple[Pixels, Transform]:
    w, h = _size(image)
    rw, rh = spec.resize_to or (spec.width, spec.height)
    ox, oy = (rw - spec.width) // 2, (rh - spec.height) // 2
    tf = Transform(rw / w, rh / h, -ox, -oy, w, h)
    if spec.resampler == "pil_bilinear" and _pow2(rw) and _pow2(rh):
        # Resample only the source box that lands in the crop. PIL computes each output
        # pixel's weights from (in0 + (x + 0.5) * scale); with a power-of-two resize_to every
        # term is an exact binary fraction, so the box gives the very weights the full resize
        # uses for the cropped pixels (bit-identical) at ~75% of the work and with no crop copy.
        box = (ox * w / rw, oy * h / rh, (ox + spec.width) * w / rw, (oy + spec.height) * h / rh)
        size = (spec.width, spec.height)
        return to_pil(image).resize(size, resample=Image.Resampling.BILINEAR, box=box), tf
    arr = _resize(image, (rw, rh), spec.resampler)
    if (ox, oy) != (0, 0) or (rw, rh) != (spec.width, spec.height):
        arr = arr[oy : oy + spec.height, ox : ox + spec.width]
    return arr, tf


def _offset(spec: InputSpec, free_x: int, free_y: int) -> tuple[int, int]:
    return (0, 0) if spec.pad == "bottom_right" else (free_x // 2, free_y // 2)


def _letterbox(image: ImageLike, spec: InputSpec) -> tuple[np.ndarray, Transform]:
    w, h = _size(image)
    if spec.pad_before_resize:  # NudeNet: pad the source to a square, then resize it
        side = max(w, h)
        px, py = _offset(spec, side - w, side - h)
        if spec.resampler == "cv2_linear" and (px, py) == (0, 0):
            return _pad_resize_linear(image, spec, side)
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


def _pad_resize_linear(
    image: ImageLike, spec: InputSpec, side: int
) -> tuple[np.ndarray, Transform]:
    """OpenCV INTER_LINEAR of the image padded bottom/right to a ``side`` square, without the
    square. Resizing by the same factor (``fx``/``fy`` = what OpenCV derives from the padded
    size) reads the same source pixels with the same fixed-point weights; the only pad pixels
    an output pixel that also touches the image can read are the first row (or column) past
    it, so one black row/column is enough: output rows further down are black either way."""
    import cv2

    arr = to_array(image)
    h, w = arr.shape[:2]
    if h < side or w < side:
        arr = cv2.copyMakeBorder(
            arr, 0, int(h < side), 0, int(w < side), cv2.BORDER_CONSTANT, value=(0, 0, 0)
        )
    fx, fy = spec.width / side, spec.height / side
    small = cv2.resize(arr, None, fx=fx, fy=fy, interpolation=cv2.INTER_LINEAR)
    out = np.zeros((spec.height, spec.width, 3), dtype=np.uint8)
    sh, sw = min(small.shape[0], spec.height), min(small.shape[1], spec.width)
    out[:sh, :sw] = small[:sh, :sw]
    return out, Transform(fx, fy, 0.0, 0.0, w, h)


def _jpeg_roundtrip(pixels: Pixels, quality: int) -> np.ndarray:
    img = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    with io.BytesIO() as buf:
        img.save(buf, format="JPEG", quality=quality)
        buf.seek(0)
        with Image.open(buf) as decoded:
            return to_array(decoded)


def prepare(image: ImageLike, spec: InputSpec) -> tuple[np.ndarray, Transform]:
    """Resized/cropped/letterboxed HxWx3 uint8 RGB pixels plus the box transform."""
    pixels: Pixels
    if spec.resize == "letterbox":
        pixels, tf = _letterbox(image, spec)
    else:
        pixels, tf = _stretch(image, spec)
    if spec.jpeg_roundtrip_quality is not None:
        return _jpeg_roundtrip(pixels, spec.jpeg_roundtrip_quality), tf
    return to_array(pixels), tf


def normalise_into(out: np.ndarray, arr: np.ndarray, spec: InputSpec) -> None:
    """Write ``(pixel * scale - mean) / std`` in the model's colour order and layout.

    One channel at a time, in place in ``out``: the same float32 operations in the same
    order as on a whole float copy (so the same bits), without the copy or the transpose."""
    scale = np.float32(spec.scale)
    for c in range(3):
        src = arr[:, :, 2 - c] if spec.colour == "BGR" else arr[:, :, c]
        dst = out[c] if spec.layout == "NCHW" else out[:, :, c]
        if spec.scale != 1.0:
            np.multiply(src, scale, out=dst, dtype=np.float32)
        else:
            dst[...] = src
        if spec.mean[c]:
            np.subtract(dst, np.float32(spec.mean[c]), out=dst)
        if spec.std[c] != 1.0:
            np.divide(dst, np.float32(spec.std[c]), out=dst)


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

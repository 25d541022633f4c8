"""The preprocessing short cuts give exactly the pixels of the plain recipes they replace.

Each plain recipe below is the reference implementation's way (NudeNet: pad to a square canvas,
then OpenCV-resize; open_nsfw: PIL-resize to 256x256, then centre-crop; normalise a float copy)
and the shipped models' scores were proven equal to the packages' with it.
"""

from __future__ import annotations

import dataclasses as dc

import cv2
import numpy as np
import pytest
from PIL import Image

from plugin.classifiers.manifest import InputSpec, load_manifest
from tests.classifiers.conftest import MODELS
from workers.classifiers.preprocess import make_batch, normalise_into, prepare

PHOTOS = ["001-skimage.jpg", "006-skimage.jpg", "014-mpl.jpg", "044-opencv.jpg", "048-mate.jpg"]
# odd sizes, portrait and landscape, a 640 side (OpenCV's exact-2x INTER_AREA path), tiny
SIZES = [(640, 481), (481, 640), (1279, 640), (999, 1000), (1000, 999), (7, 5), (31, 640)]


def _spec(name: str) -> InputSpec:
    return load_manifest(MODELS / name / "manifest.toml").input


def _images(corpus: dict[str, Image.Image]) -> list[Image.Image]:
    photos = [corpus[n] for n in PHOTOS]
    return photos + [photos[1].resize(size) for size in SIZES]


def _canvas_resize(image: Image.Image, spec: InputSpec) -> np.ndarray:
    arr = np.asarray(image)
    h, w = arr.shape[:2]
    side = max(w, h)
    canvas = np.zeros((side, side, 3), dtype=np.uint8)
    canvas[:h, :w] = arr
    return cv2.resize(canvas, (spec.width, spec.height), interpolation=cv2.INTER_LINEAR)


def _resize_then_crop(image: Image.Image, spec: InputSpec) -> np.ndarray:
    rw, rh = spec.resize_to or (spec.width, spec.height)
    full = np.asarray(image.resize((rw, rh), resample=Image.Resampling.BILINEAR))
    ox, oy = (rw - spec.width) // 2, (rh - spec.height) // 2
    return full[oy : oy + spec.height, ox : ox + spec.width]


def test_nudenet_letterbox_without_the_square_canvas(corpus: dict[str, Image.Image]) -> None:
    spec = _spec("nudenet-320n")
    for image in _images(corpus):
        for source in (image, np.asarray(image)):
            arr, tf = prepare(source, spec)
            assert np.array_equal(arr, _canvas_resize(image, spec)), image.size
            assert (tf.sx, tf.ox, tf.oy) == (320 / max(image.size), 0.0, 0.0)


def test_open_nsfw_box_resize_equals_resize_then_crop(corpus: dict[str, Image.Image]) -> None:
    spec = dc.replace(_spec("open-nsfw"), jpeg_roundtrip_quality=None)
    for image in _images(corpus):
        arr, tf = prepare(image, spec)
        assert arr.shape == (224, 224, 3)
        assert np.array_equal(arr, _resize_then_crop(image, spec)), image.size
        assert (tf.ox, tf.oy) == (-16, -16)
    # a resize_to that is not a power of two takes the plain path
    odd = dc.replace(spec, resize_to=(250, 250))
    for image in _images(corpus)[:3]:
        assert np.array_equal(prepare(image, odd)[0], _resize_then_crop(image, odd))


@pytest.mark.parametrize("name", ["nudenet-320n", "open-nsfw", "blazeface-full-range"])
def test_in_place_normalisation_equals_float_copy(name: str) -> None:
    spec = _spec(name)
    arr = np.random.default_rng(3).integers(0, 256, (spec.height, spec.width, 3), dtype=np.uint8)
    x = arr[:, :, ::-1] if spec.colour == "BGR" else arr
    x = x.astype(np.float32) * np.float32(spec.scale)
    x = (x - np.asarray(spec.mean, dtype=np.float32)) / np.asarray(spec.std, dtype=np.float32)
    expected = x.transpose(2, 0, 1) if spec.layout == "NCHW" else x
    out = np.empty(expected.shape, dtype=np.float32)
    normalise_into(out, arr, spec)
    assert np.array_equal(out, expected)
    batch, _ = make_batch([arr, Image.fromarray(arr)], spec)
    assert batch.shape == (2, *expected.shape)
    assert np.array_equal(batch[0], batch[1])

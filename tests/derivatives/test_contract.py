"""Contract tests for plugin.derivatives: edited copies match, unrelated photos do not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugin.derivatives import DerivativeIndex, DerivativeMatch, Fingerprint, fingerprint

ROOT = Path(__file__).resolve().parents[2]
CORPUS = next(
    (
        p
        for p in (ROOT.parent / "shared/corpus/photos", Path("/work/shared/corpus/photos"))
        if p.is_dir()
    ),
    ROOT.parent / "shared/corpus/photos",
)
# astronaut, coffee, leuvenA (building), home, Garden, BytheWater: varied, all textured
PHOTOS = [
    "001-skimage.jpg",
    "004-skimage.jpg",
    "024-opencv.jpg",
    "027-opencv.jpg",
    "045-mate.jpg",
    "057-plasma.jpg",
]
UNRELATED = ["012-sklearn.jpg", "022-opencv.jpg", "036-opencv.jpg", "060-plasma.jpg"]

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not available")


def load(name: str) -> Image.Image:
    return Image.open(CORPUS / name).convert("RGB")


@pytest.fixture(scope="module")
def images() -> dict[str, Image.Image]:
    return {name: load(name) for name in PHOTOS + UNRELATED}


@pytest.fixture(scope="module")
def index(images: dict[str, Image.Image]) -> DerivativeIndex:
    idx = DerivativeIndex()
    for pid, name in enumerate(PHOTOS):
        idx.add(pid, fingerprint(images[name]))
    return idx


def crop_and_replace(im: Image.Image, donor: Image.Image) -> Image.Image:
    """10 % off every side, then a quarter of the area pasted over from another photo."""
    w, h = im.size
    out = im.crop((w // 10, h // 10, w - w // 10, h - h // 10))
    pw, ph = out.size[0] // 2, out.size[1] // 2
    out.paste(donor.resize((pw, ph)), (out.size[0] - pw - 5, 5))
    return out


def edits(im: Image.Image, donor: Image.Image) -> dict[str, Image.Image]:
    w, h = im.size
    return {
        "crop+replace": crop_and_replace(im, donor),
        "mirror": im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "resize": im.resize((w // 3, h // 3)),
        "mirror+crop+replace": crop_and_replace(im, donor).transpose(
            Image.Transpose.FLIP_LEFT_RIGHT
        ),
    }


def test_edited_copies_match_their_original(
    index: DerivativeIndex, images: dict[str, Image.Image]
) -> None:
    donor = images[UNRELATED[0]]
    for pid, name in enumerate(PHOTOS):
        for kind, query in edits(images[name], donor).items():
            got = index.match(query)
            assert got, f"{name} {kind}: no match"
            best = got[0]
            assert isinstance(best, DerivativeMatch)
            assert best.id == pid, f"{name} {kind}: matched {best.id}"
            assert 0.0 < best.score <= 1.0
            ev = best.evidence
            json.dumps(ev)  # JSON-safe
            assert ev["inliers"] >= 12
            assert ev["mirrored"] is kind.startswith("mirror")
            x0, y0, x1, y1 = ev["query_region"]
            assert 0 <= x0 < x1 <= query.size[0] + 1 and 0 <= y0 < y1 <= query.size[1] + 1
            px0, py0, px1, py1 = ev["protected_region"]
            iw, ih = images[name].size
            assert 0 <= px0 < px1 <= iw + 1 and 0 <= py0 < py1 <= ih + 1


def test_mirrored_region_maps_back(index: DerivativeIndex, images: dict[str, Image.Image]) -> None:
    im = images[PHOTOS[0]]
    w, _ = im.size
    right_half = im.crop((w // 2, 0, w, im.size[1])).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    best = index.match(right_half)[0]
    assert best.id == 0 and best.evidence["mirrored"] is True
    assert best.evidence["protected_region"][0] >= w // 2 - 40  # evidence lies in right half


def test_unrelated_photos_do_not_match(
    index: DerivativeIndex, images: dict[str, Image.Image]
) -> None:
    for name in UNRELATED:
        assert index.match(images[name]) == [], name
        assert index.match(images[name].transpose(Image.Transpose.FLIP_LEFT_RIGHT)) == []


def test_remove_stops_matching(images: dict[str, Image.Image]) -> None:
    idx = DerivativeIndex()
    for pid, name in enumerate(PHOTOS[:3]):
        idx.add(pid, fingerprint(images[name]))
    query = crop_and_replace(images[PHOTOS[1]], images[UNRELATED[1]])
    assert [m.id for m in idx.match(query)][:1] == [1]
    idx.remove(1)
    assert len(idx) == 2 and 1 not in idx
    assert all(m.id != 1 for m in idx.match(query))
    idx.remove(1)  # idempotent
    assert idx.match(images[PHOTOS[0]])[0].id == 0  # the others still match
    idx.compact()  # physically drops the removed postings
    assert idx.match(images[PHOTOS[2]])[0].id == 2
    idx.add(1, fingerprint(images[PHOTOS[1]]))  # re-adding works
    assert idx.match(query)[0].id == 1


def test_readd_replaces(images: dict[str, Image.Image]) -> None:
    idx = DerivativeIndex()
    idx.add(7, fingerprint(images[PHOTOS[0]]))
    idx.add(7, fingerprint(images[PHOTOS[1]]))
    assert len(idx) == 1
    assert idx.match(images[PHOTOS[0]]) == []
    assert idx.match(images[PHOTOS[1]])[0].id == 7


def test_fingerprint_round_trip(images: dict[str, Image.Image]) -> None:
    fp = fingerprint(images[PHOTOS[0]])
    assert 100 < len(fp) <= 500
    blob = fp.to_bytes()
    assert len(blob) < 20_000
    back = Fingerprint.from_bytes(blob)
    assert (back.width, back.height) == (fp.width, fp.height)
    assert (back.source_width, back.source_height) == images[PHOTOS[0]].size
    assert np.array_equal(back.descriptors, fp.descriptors)
    assert np.abs(back.xy - fp.xy).max() <= 1 / 16 + 1e-6
    assert back.to_bytes() == blob
    # a round-tripped fingerprint indexes and matches like the original
    idx = DerivativeIndex()
    idx.add(3, back)
    assert idx.match(images[PHOTOS[0]].resize((300, 300)))[0].id == 3


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b[:-1],  # truncated
        lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:],  # one flipped bit
        lambda b: b[:3] + bytes([99]) + b[4:],  # unknown version
        lambda b: b"XYZ" + b[3:],  # not a fingerprint
        lambda b: b"",  # empty
    ],
)
def test_corrupted_blob_raises(images: dict[str, Image.Image], mutate) -> None:
    blob = fingerprint(images[PHOTOS[1]]).to_bytes()
    with pytest.raises(ValueError):
        Fingerprint.from_bytes(mutate(blob))


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (16, 16), (200, 10, 10)),
        Image.new("RGB", (640, 480), (128, 128, 128)),
        Image.new("L", (1, 1)),
        Image.new("RGBA", (300, 200), (0, 0, 0, 0)),
    ],
)
def test_tiny_and_flat_images(index: DerivativeIndex, image: Image.Image) -> None:
    fp = fingerprint(image)
    assert len(fp) == 0
    assert Fingerprint.from_bytes(fp.to_bytes()).descriptors.shape == (0, 32)
    assert index.match(image) == []
    idx = DerivativeIndex()
    idx.add(1, fp)  # accepted, can never match
    assert len(idx) == 1
    assert idx.match(image) == []


def test_empty_index_matches_nothing(images: dict[str, Image.Image]) -> None:
    assert DerivativeIndex().match(images[PHOTOS[0]]) == []

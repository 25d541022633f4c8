"""Verdicts, taxonomy mapping, box decoding and session handling on tiny generated models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugin.classifiers import TAXONOMY, ImageClassifier, Verdict
from tests.classifiers.tiny_models import write_model
from workers.classifiers import (
    load_classifier,
    load_classifiers,
    resolve_providers,
    resolve_threads,
    session_cache_info,
    sessions,
)
from workers.classifiers import providers as prov


def test_taxonomy_has_the_policy_labels() -> None:
    for label in ("nudity.explicit", "nudity.partial", "sexual.suggestive", "drawing", "neutral"):
        assert label in TAXONOMY
    assert "face" in TAXONOMY


def test_softmax_mapping_and_verdict_json(tmp_path: Path) -> None:
    clf = load_classifier(write_model(tmp_path / "s", "softmax"), providers="cpu")
    assert isinstance(clf, ImageClassifier)
    red = Image.new("RGB", (40, 30), (255, 0, 0))
    green = np.zeros((20, 20, 3), dtype=np.uint8)
    green[..., 1] = 255
    v_red, v_green = clf.classify([red, green])
    assert v_red.model == "tiny-softmax@1"
    assert v_red.scores["r"] > 0.99 and set(v_red.scores) == {"r", "g", "b"}
    assert set(v_red.labels) == {"nudity.explicit"}
    assert set(v_green.labels) == {"neutral"}
    assert v_green.taxonomy["nudity.explicit"] < 0.01  # mapped but below threshold
    data = json.loads(json.dumps(v_red.to_dict()))
    assert Verdict.from_dict(data).labels.keys() == v_red.labels.keys()


def test_detector_decoding_nms_and_letterbox(tmp_path: Path) -> None:
    det = load_classifier(write_model(tmp_path / "d", "detector"), providers="cpu")
    # 64x32 source letterboxed into 32x32: scale 0.5, 8 px of padding top and bottom
    (v,) = det.classify([Image.new("RGB", (64, 32))])
    assert [d.label for d in v.detections] == ["a", "b"]  # the overlapping 0.8 box suppressed
    a, b = v.detections
    # NudeNet-style clipping: y clamps to 0, h is only capped at the far edge
    assert a.box == pytest.approx((8.0, 0.0, 16.0, 16.0))
    assert b.box == pytest.approx((44.0, 28.0, 8.0, 4.0))  # h clipped at the bottom edge
    assert v.labels == {"nudity.partial": pytest.approx(0.9)}  # b's 0.3 < its 0.5 threshold
    assert v.taxonomy["face"] == pytest.approx(0.3)
    json.dumps(v.to_dict())


def test_batches_match_single_runs(tmp_path: Path) -> None:
    clf = load_classifier(write_model(tmp_path / "s", "softmax"), batch_size=2)
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, (17 + i, 23, 3), dtype=np.uint8) for i in range(5)]
    batched = clf.classify(images)
    single = [clf.classify([im])[0] for im in images]
    for x, y in zip(batched, single, strict=True):
        assert x.scores == pytest.approx(y.scores, abs=1e-6)


def test_sessions_are_reused(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_model(models / "s", "softmax")
    write_model(models / "d", "detector")
    first = load_classifiers(models, providers="cpu")
    created = session_cache_info().created
    second = load_classifiers(models, providers="cpu")
    second[0].classify([Image.new("RGB", (8, 8))])
    assert session_cache_info().created == created
    assert first[0].session is second[0].session


def test_provider_resolution_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prov, "available_providers", lambda: ["CPUExecutionProvider"])
    assert resolve_providers("cuda") == ("CPUExecutionProvider",)
    monkeypatch.setenv("CONSENTRY_ONNX_PROVIDERS", "cuda, cpu")
    assert resolve_providers() == ("CPUExecutionProvider",)
    monkeypatch.setattr(
        prov, "available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    assert resolve_providers() == ("CUDAExecutionProvider", "CPUExecutionProvider")
    monkeypatch.delenv("CONSENTRY_ONNX_PROVIDERS")
    monkeypatch.setattr(prov, "gpu_visible", lambda: False)
    assert resolve_providers() == ("CPUExecutionProvider",)  # auto: onnxruntime-gpu, no GPU
    monkeypatch.setenv("CONSENTRY_ONNX_THREADS", "1")
    assert resolve_threads() == 1
    assert resolve_threads(3) == 3


def test_cuda_requested_but_absent_falls_back_to_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_model(tmp_path / "s", "softmax")
    # on this machine: plain onnxruntime has no CUDA provider at all
    clf = load_classifier(manifest, providers="cuda")
    assert clf.providers == ("CPUExecutionProvider",)
    assert clf.classify([Image.new("RGB", (8, 8), (0, 0, 255))])[0].scores["b"] > 0.99

    # onnxruntime-gpu installed but the CUDA provider fails to start: retry on CPU
    real = sessions._create_session

    def flaky(path: str, providers: tuple[str, ...], threads: int | None):  # type: ignore[no-untyped-def]
        if "CUDAExecutionProvider" in providers:
            raise RuntimeError("CUDA driver not found")
        return real(path, providers, threads)

    monkeypatch.setattr(
        prov, "available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    monkeypatch.setattr(sessions, "_create_session", flaky)
    fallbacks = session_cache_info().fallbacks
    clf = load_classifier(manifest, providers="cuda", threads=1)
    assert clf.providers == ("CPUExecutionProvider",)
    assert session_cache_info().fallbacks == fallbacks + 1
    assert clf.classify([Image.new("RGB", (8, 8), (0, 0, 255))])[0].scores["b"] > 0.99

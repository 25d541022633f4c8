"""Shared fixtures: the shipped models, benign corpus photos and tiny generated ONNX models."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
CORPUS = REPO.parent / "shared" / "corpus" / "photos"  # shared/ lies beside the clone


def corpus_paths() -> list[Path]:
    return sorted(CORPUS.glob("*.jpg"))


@pytest.fixture(scope="session")
def corpus() -> dict[str, Image.Image]:
    paths = corpus_paths()
    if not paths:
        raise RuntimeError(f"benign corpus not found at {CORPUS}; it ships in shared/")
    return {p.name: Image.open(p).convert("RGB") for p in paths}


@pytest.fixture(scope="session")
def shipped() -> dict:
    from workers.classifiers import load_classifiers

    return {c.name: c for c in load_classifiers(MODELS, providers="cpu")}

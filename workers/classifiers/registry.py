"""Load every model under ``models/`` from its manifest.

Workers call :func:`load_classifiers` at start-up (and may call it again per job: sessions
come from the process-wide cache, so a second call costs only manifest parsing).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from plugin.classifiers.manifest import Manifest, find_manifests, load_manifest
from workers.classifiers.models import OnnxDetector, OnnxSoftmaxClassifier

OnnxClassifier = OnnxSoftmaxClassifier | OnnxDetector


def build_classifier(
    manifest: Manifest,
    providers: Sequence[str] | str | None = None,
    threads: int | None = None,
    batch_size: int | None = None,
) -> OnnxClassifier:
    cls = OnnxDetector if manifest.output.kind == "detector" else OnnxSoftmaxClassifier
    return cls(manifest, providers, threads, batch_size)


def load_classifier(
    manifest_path: str | Path,
    providers: Sequence[str] | str | None = None,
    threads: int | None = None,
    batch_size: int | None = None,
) -> OnnxClassifier:
    return build_classifier(load_manifest(manifest_path), providers, threads, batch_size)


def load_classifiers(
    models_dir: str | Path,
    providers: Sequence[str] | str | None = None,
    threads: int | None = None,
    *,
    only: Iterable[str] | None = None,
    batch_size: int | None = None,
) -> list[OnnxClassifier]:
    """One classifier per ``<models_dir>/*/manifest.toml`` (optionally only the named ones)."""
    wanted = set(only) if only is not None else None
    out = []
    for path in find_manifests(models_dir):
        manifest = load_manifest(path)
        if wanted is None or manifest.name in wanted:
            out.append(build_classifier(manifest, providers, threads, batch_size))
    return out

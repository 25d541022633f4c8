"""Classifier contracts shared by the web app and the workers.

Manifests, the common taxonomy, verdicts and the :class:`ImageClassifier` protocol live here.
This package must never import onnxruntime: web processes import it to validate manifests and
read stored verdicts; the ONNX implementation lives in ``workers.classifiers``.
"""

from plugin.classifiers.errors import ModelError
from plugin.classifiers.interfaces import ImageClassifier, ImageLike
from plugin.classifiers.manifest import (
    InputSpec,
    LabelRule,
    Manifest,
    OutputSpec,
    find_manifests,
    load_manifest,
    parse_manifest,
    verify_weights,
)
from plugin.classifiers.taxonomy import (
    DRAWING,
    FACE,
    NEUTRAL,
    NUDITY_EXPLICIT,
    NUDITY_PARTIAL,
    SEXUAL_SUGGESTIVE,
    TAXONOMY,
)
from plugin.classifiers.verdict import Detection, Verdict

__all__ = [
    "DRAWING",
    "FACE",
    "NEUTRAL",
    "NUDITY_EXPLICIT",
    "NUDITY_PARTIAL",
    "SEXUAL_SUGGESTIVE",
    "TAXONOMY",
    "Detection",
    "ImageClassifier",
    "ImageLike",
    "InputSpec",
    "LabelRule",
    "Manifest",
    "ModelError",
    "OutputSpec",
    "Verdict",
    "find_manifests",
    "load_manifest",
    "parse_manifest",
    "verify_weights",
]

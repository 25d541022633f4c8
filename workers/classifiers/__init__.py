"""The onnxruntime implementation of ``plugin.classifiers`` (the only importer of onnxruntime).

Worker processes call :func:`load_classifiers` once; sessions are cached per process.
"""

from workers.classifiers.models import OnnxDetector, OnnxSoftmaxClassifier
from workers.classifiers.providers import resolve_providers, resolve_threads
from workers.classifiers.registry import build_classifier, load_classifier, load_classifiers
from workers.classifiers.sessions import (
    SessionCacheInfo,
    clear_session_cache,
    session_cache_info,
)

__all__ = [
    "OnnxDetector",
    "OnnxSoftmaxClassifier",
    "SessionCacheInfo",
    "build_classifier",
    "clear_session_cache",
    "load_classifier",
    "load_classifiers",
    "resolve_providers",
    "resolve_threads",
    "session_cache_info",
]

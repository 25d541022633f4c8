"""One onnxruntime session per (weights, providers, threads) per process.

Creating a session costs 100 ms to seconds (graph optimisation, CUDA init) and its memory is
large, so workers build each once and reuse it for every job; ``InferenceSession.run`` is
thread-safe. ``session_cache_info()`` lets tests and metrics prove that reuse happens.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from plugin.classifiers.errors import ModelError
from workers.classifiers.graph import optimised_model
from workers.classifiers.providers import CPU

log = logging.getLogger(__name__)

SessionKey = tuple[str, tuple[str, ...], int | None]


@dataclass(frozen=True)
class SessionCacheInfo:
    sessions: int  # sessions held now
    created: int  # sessions built since start (or the last clear)
    hits: int  # requests answered from the cache
    fallbacks: int  # sessions that fell back to CPU after an accelerator failed


_lock = threading.Lock()
_cache: dict[SessionKey, ort.InferenceSession] = {}
_stats = {"created": 0, "hits": 0, "fallbacks": 0}


def _create_session(
    path: str, providers: tuple[str, ...], threads: int | None
) -> ort.InferenceSession:
    """Build a session (a seam that tests replace to simulate a broken CUDA)."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    model = optimised_model(path)  # exact rewrites, in memory; None: the file as it is
    source = path if model is None else model
    return ort.InferenceSession(source, sess_options=opts, providers=list(providers))


def get_session(
    weights: Path, providers: tuple[str, ...], threads: int | None
) -> ort.InferenceSession:
    """The cached session for this key, building it (with CPU fallback) on first use."""
    key: SessionKey = (str(weights), providers, threads)
    with _lock:
        session = _cache.get(key)
        if session is not None:
            _stats["hits"] += 1
            return session
        try:
            session = _create_session(str(weights), providers, threads)
        except Exception as exc:
            if providers == (CPU,):
                raise ModelError(f"onnxruntime cannot load {weights}: {exc}") from exc
            log.warning(
                "providers %s failed for %s (%s); falling back to CPU", providers, weights, exc
            )
            _stats["fallbacks"] += 1
            try:
                session = _create_session(str(weights), (CPU,), threads)
            except Exception as exc2:
                raise ModelError(f"onnxruntime cannot load {weights}: {exc2}") from exc2
        if session.get_providers()[:1] != list(providers[:1]):
            log.warning("%s runs on %s (asked for %s)", weights, session.get_providers(), providers)
        _stats["created"] += 1
        _cache[key] = session
        return session


def session_cache_info() -> SessionCacheInfo:
    with _lock:
        return SessionCacheInfo(len(_cache), _stats["created"], _stats["hits"], _stats["fallbacks"])


def clear_session_cache() -> None:
    """Drop every cached session (tests; or a worker reloading models)."""
    with _lock:
        _cache.clear()
        for k in _stats:
            _stats[k] = 0

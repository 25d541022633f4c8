"""Choose onnxruntime execution providers and thread counts.

CUDA is used when onnxruntime-gpu is installed and a GPU is visible; otherwise CPU. Admins can
override with an argument or ``CONSENTRY_ONNX_PROVIDERS`` (comma list, short names such as
``cuda,cpu`` accepted) and ``CONSENTRY_ONNX_THREADS``. CPU is always appended as the fallback,
so asking for CUDA on a machine without it degrades to CPU instead of failing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import onnxruntime as ort

from plugin.classifiers.errors import ModelError

log = logging.getLogger(__name__)

PROVIDERS_ENV = "CONSENTRY_ONNX_PROVIDERS"
THREADS_ENV = "CONSENTRY_ONNX_THREADS"
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"

ALIASES = {
    "cpu": CPU,
    "cuda": CUDA,
    "gpu": CUDA,
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "dml": "DmlExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}


def available_providers() -> list[str]:
    """What this onnxruntime build offers (a seam for tests)."""
    return list(ort.get_available_providers())


def gpu_visible() -> bool:
    """Cheap check that an NVIDIA device is exposed to this process."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return Path("/dev/nvidiactl").exists() or Path("/dev/nvidia0").exists()


def normalise(name: str) -> str:
    name = name.strip()
    return ALIASES.get(name.lower(), name)


def resolve_providers(requested: Sequence[str] | str | None = None) -> tuple[str, ...]:
    """The provider list for a session, best first, always ending with CPU."""
    if requested is None:
        env = os.environ.get(PROVIDERS_ENV, "").strip()
        requested = env or None
    if isinstance(requested, str):
        requested = [p for p in requested.split(",") if p.strip()]
    available = available_providers()
    if requested is None:
        chosen = [CUDA] if CUDA in available and gpu_visible() else []
    else:
        wanted = [normalise(p) for p in requested]
        missing = [p for p in wanted if p not in available]
        if missing:
            log.warning("onnxruntime providers %s unavailable here; using CPU for them", missing)
        chosen = [p for p in wanted if p in available]
    chosen = list(dict.fromkeys(chosen))
    if CPU in chosen:
        chosen.remove(CPU)
    return (*chosen, CPU)


def resolve_threads(threads: int | None = None) -> int | None:
    """intra-op threads: the argument, else ``CONSENTRY_ONNX_THREADS``, else ORT's default."""
    if threads is None:
        env = os.environ.get(THREADS_ENV, "").strip()
        if not env:
            return None
        try:
            threads = int(env)
        except ValueError as exc:
            raise ModelError(f"{THREADS_ENV}={env!r} is not an integer") from exc
    if threads < 0:
        raise ModelError(f"thread count must be >= 0, got {threads}")
    return threads or None

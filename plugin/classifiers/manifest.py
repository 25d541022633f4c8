"""Parse ``models/<name>/manifest.toml`` and verify the weights it names.

The manifest is the whole contract between an admin and the worker: where the ONNX file is,
which bytes it must be (sha256), how to feed it and how to read its outputs. Parsing is strict
and every error names the manifest or weights file, because a silently wrong model is worse
than none. Nothing here imports onnxruntime: the web process validates manifests too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin.classifiers.errors import ModelError
from plugin.classifiers.taxonomy import TAXONOMY

KINDS = ("softmax", "detector")
LAYOUTS = ("NCHW", "NHWC")
COLOURS = ("RGB", "BGR")
RESIZES = ("stretch", "letterbox")
PADS = ("center", "bottom_right")
RESAMPLERS = ("pil_bilinear", "cv2_linear", "cv2_area")
FORMATS = ("yolov8", "ssd_anchors")


@dataclass(frozen=True)
class InputSpec:
    """How a decoded RGB image becomes the model's input tensor."""

    name: str | None
    width: int
    height: int
    layout: str = "NCHW"
    colour: str = "RGB"
    resize: str = "stretch"
    resize_to: tuple[int, int] | None = None  # stretch to (w, h) first, then centre-crop
    pad: str = "center"
    pad_before_resize: bool = False
    resampler: str = "pil_bilinear"
    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)  # in the model's colour order
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    jpeg_roundtrip_quality: int | None = None


@dataclass(frozen=True)
class OutputSpec:
    """How the model's outputs become scores (softmax) or boxes (detector)."""

    kind: str
    apply_softmax: bool = False
    format: str | None = None
    outputs: tuple[str, ...] = ()
    score_threshold: float = 0.25
    iou_threshold: float = 0.45
    class_agnostic_nms: bool = True
    max_detections: int = 100
    anchor_strides: tuple[int, ...] = ()
    anchors_per_cell: tuple[int, ...] = ()
    anchor_offset: float = 0.5
    score_activation: str = "none"


@dataclass(frozen=True)
class LabelRule:
    """Maps one model label onto the taxonomy, with the score at which it counts."""

    taxonomy: str | None
    threshold: float


@dataclass(frozen=True)
class Manifest:
    path: Path
    name: str
    version: str
    weights: Path
    sha256: str
    licence: str
    source: str
    input: InputSpec
    output: OutputSpec
    labels: tuple[str, ...]
    rules: dict[str, LabelRule]
    batch_size: int = 8

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"


def _need(table: dict[str, Any], key: str, where: str, path: Path) -> Any:
    if key not in table:
        raise ModelError(f"{path}: missing required field '{where}{key}'")
    return table[key]


def _choice(value: Any, options: tuple[str, ...], field: str, path: Path) -> str:
    if value not in options:
        raise ModelError(f"{path}: '{field}' is {value!r}, expected one of {list(options)}")
    return str(value)


def _triple(value: Any, field: str, path: Path) -> tuple[float, float, float]:
    if isinstance(value, int | float):
        return (float(value),) * 3  # type: ignore[return-value]
    if not isinstance(value, list) or len(value) != 3:
        raise ModelError(f"{path}: '{field}' must be a number or a list of 3 numbers")
    return tuple(float(v) for v in value)  # type: ignore[return-value]


def resolve_weights(data: dict[str, Any], path: Path) -> Path:
    """The weights path: ``file`` relative to the manifest, or ``package`` + ``resource``.

    The package is located with ``importlib.util.find_spec`` so it is never imported (importing
    nudenet would pull in onnxruntime and OpenCV).
    """
    if "file" in data:
        return (path.parent / str(data["file"])).resolve()
    if "package" in data and "resource" in data:
        spec = importlib.util.find_spec(str(data["package"]))
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                f"{path}: package '{data['package']}' that ships '{data['resource']}' "
                "is not installed"
            )
        return Path(next(iter(spec.submodule_search_locations))) / str(data["resource"])
    raise ModelError(f"{path}: needs 'file', or 'package' and 'resource'")


_VERIFIED: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """sha256 of a file, memoised on (path, size, mtime) so reloads do not rehash 20 MB."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _VERIFIED[key] = digest.hexdigest()
    return _VERIFIED[key]


def verify_weights(weights: Path, expected: str, manifest_path: Path) -> None:
    """Raise :class:`ModelError` naming the file when it is missing or its sha256 differs."""
    if not weights.is_file():
        raise ModelError(f"model file {weights} (named by {manifest_path}) is missing")
    actual = sha256_of(weights)
    if actual != expected.lower():
        raise ModelError(
            f"model file {weights} has sha256 {actual}, but {manifest_path} expects {expected}"
        )


def _input_spec(t: dict[str, Any], path: Path) -> InputSpec:
    resize_to = t.get("resize_to")
    jpeg = t.get("jpeg_roundtrip_quality")
    return InputSpec(
        name=t.get("name"),
        width=int(_need(t, "width", "input.", path)),
        height=int(_need(t, "height", "input.", path)),
        layout=_choice(t.get("layout", "NCHW"), LAYOUTS, "input.layout", path),
        colour=_choice(t.get("colour", "RGB"), COLOURS, "input.colour", path),
        resize=_choice(t.get("resize", "stretch"), RESIZES, "input.resize", path),
        resize_to=(int(resize_to[0]), int(resize_to[1])) if resize_to else None,
        pad=_choice(t.get("pad", "center"), PADS, "input.pad", path),
        pad_before_resize=bool(t.get("pad_before_resize", False)),
        resampler=_choice(t.get("resampler", "pil_bilinear"), RESAMPLERS, "input.resampler", path),
        scale=float(t.get("scale", 1.0)),
        mean=_triple(t.get("mean", 0.0), "input.mean", path),
        std=_triple(t.get("std", 1.0), "input.std", path),
        jpeg_roundtrip_quality=int(jpeg) if jpeg is not None else None,
    )


def _output_spec(t: dict[str, Any], path: Path) -> OutputSpec:
    kind = _choice(_need(t, "type", "output.", path), KINDS, "output.type", path)
    fmt = None
    if kind == "detector":
        fmt = _choice(_need(t, "format", "output.", path), FORMATS, "output.format", path)
    strides = tuple(int(s) for s in t.get("anchor_strides", ()))
    per_cell = tuple(int(s) for s in t.get("anchors_per_cell", ()))
    if fmt == "ssd_anchors" and (not strides or len(strides) != len(per_cell)):
        raise ModelError(f"{path}: ssd_anchors needs anchor_strides and anchors_per_cell lists")
    return OutputSpec(
        kind=kind,
        apply_softmax=bool(t.get("apply_softmax", False)),
        format=fmt,
        outputs=tuple(str(o) for o in t.get("outputs", ())),
        score_threshold=float(t.get("score_threshold", 0.25)),
        iou_threshold=float(t.get("iou_threshold", 0.45)),
        class_agnostic_nms=bool(t.get("class_agnostic_nms", True)),
        max_detections=int(t.get("max_detections", 100)),
        anchor_strides=strides,
        anchors_per_cell=per_cell,
        anchor_offset=float(t.get("anchor_offset", 0.5)),
        score_activation=_choice(
            t.get("score_activation", "none"), ("none", "sigmoid"), "output.score_activation", path
        ),
    )


def _rules(data: dict[str, Any], labels: tuple[str, ...], path: Path) -> dict[str, LabelRule]:
    rules: dict[str, LabelRule] = {}
    for label, t in data.get("mapping", {}).items():
        if label not in labels:
            raise ModelError(f"{path}: mapping for unknown label '{label}'")
        tax = t.get("taxonomy")
        if tax is not None and tax not in TAXONOMY:
            raise ModelError(
                f"{path}: label '{label}' maps to '{tax}', not in the taxonomy {list(TAXONOMY)}"
            )
        threshold = float(_need(t, "threshold", f"mapping.{label}.", path))
        if not 0.0 <= threshold <= 1.0:
            raise ModelError(f"{path}: mapping.{label}.threshold must be within [0, 1]")
        rules[label] = LabelRule(taxonomy=tax, threshold=threshold)
    return rules


def parse_manifest(data: dict[str, Any], path: Path, *, verify: bool = True) -> Manifest:
    """Build a :class:`Manifest` from parsed TOML; ``verify`` checks the weights' sha256."""
    for key in ("name", "version", "sha256", "licence", "source", "labels", "input", "output"):
        _need(data, key, "", path)
    weights = resolve_weights(data, path)
    sha = str(data["sha256"])
    if len(sha) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha):
        raise ModelError(f"{path}: sha256 must be 64 hex digits")
    labels = tuple(str(x) for x in data["labels"])
    if not labels:
        raise ModelError(f"{path}: 'labels' is empty")
    if verify:
        verify_weights(weights, sha, path)
    return Manifest(
        path=path,
        name=str(data["name"]),
        version=str(data["version"]),
        weights=weights,
        sha256=sha.lower(),
        licence=str(data["licence"]),
        source=str(data["source"]),
        input=_input_spec(data["input"], path),
        output=_output_spec(data["output"], path),
        labels=labels,
        rules=_rules(data, labels, path),
        batch_size=int(data.get("batch_size", 8)),
    )


def load_manifest(path: str | Path, *, verify: bool = True) -> Manifest:
    """Read and validate one ``manifest.toml``."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ModelError(f"manifest {path} is missing")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{path}: invalid TOML: {exc}") from exc
    return parse_manifest(data, path, verify=verify)


def find_manifests(models_dir: str | Path) -> list[Path]:
    """Every ``<models_dir>/<name>/manifest.toml``, sorted by folder name."""
    root = Path(models_dir)
    if not root.is_dir():
        raise ModelError(f"models directory {root} is missing")
    return sorted(root.glob("*/manifest.toml"))

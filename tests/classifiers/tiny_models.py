"""Build few-kB ONNX models with the onnx helper for manifest/contract tests.

softmax model: mean colour of the image -> softmax over (r, g, b), so a red picture scores "r".
detector model: ignores its input and always emits the same YOLOv8-style rows, so the box
decoding, NMS and taxonomy mapping can be checked against hand-computed numbers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 18)]

# 3 candidate boxes at 32x32 input: (cx, cy, w, h) + scores for classes (a, b)
DETECTIONS = np.array(
    [
        # cx    cy    w     h     a     b
        [8.0, 8.0, 8.0, 8.0, 0.9, 0.1],  # kept: class a 0.9
        [9.0, 8.0, 8.0, 8.0, 0.8, 0.2],  # overlaps the first (IoU 0.78) -> suppressed
        [24.0, 24.0, 4.0, 4.0, 0.1, 0.3],  # kept: class b 0.3
    ],
    dtype=np.float32,
)


def _save(model: onnx.ModelProto, path: Path) -> str:
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def softmax_model(path: Path) -> str:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])
    axes = numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes")
    ten = numpy_helper.from_array(np.array(10.0, dtype=np.float32), "ten")
    nodes = [
        helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "ten"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["y"], axis=1),
    ]
    graph = helper.make_graph(nodes, "tiny_softmax", [x], [y], [axes, ten])
    return _save(helper.make_model(graph, opset_imports=OPSET), path)


def detector_model(path: Path) -> str:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 32, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 6, 3])
    rows = numpy_helper.from_array(DETECTIONS.T[None], "rows")  # (1, 4 + classes, anchors)
    zero = numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero")
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], keepdims=1),  # (n, 1, 1, 1)
        helper.make_node("Squeeze", ["m", "sq_axes"], ["m3"]),  # (n, 1, 1)
        helper.make_node("Mul", ["m3", "zero"], ["z"]),
        helper.make_node("Add", ["z", "rows"], ["y"]),  # broadcast to (n, 6, 3)
    ]
    sq_axes = numpy_helper.from_array(np.array([3], dtype=np.int64), "sq_axes")
    graph = helper.make_graph(nodes, "tiny_detector", [x], [y], [rows, zero, sq_axes])
    return _save(helper.make_model(graph, opset_imports=OPSET), path)


SOFTMAX_MANIFEST = """
name = "tiny-softmax"
version = "1"
file = "tiny.onnx"
sha256 = "{sha}"
licence = "CC0-1.0"
source = "tests/classifiers/tiny_models.py"
labels = ["r", "g", "b"]

[input]
width = 8
height = 8
layout = "NCHW"
colour = "RGB"
scale = 0.00392156862745098

[output]
type = "softmax"

[mapping.r]
taxonomy = "nudity.explicit"
threshold = 0.4

[mapping.g]
taxonomy = "neutral"
threshold = 0.4
"""

DETECTOR_MANIFEST = """
name = "tiny-detector"
version = "1"
file = "tiny.onnx"
sha256 = "{sha}"
licence = "CC0-1.0"
source = "tests/classifiers/tiny_models.py"
labels = ["a", "b"]

[input]
width = 32
height = 32
resize = "letterbox"
pad = "center"

[output]
type = "detector"
format = "yolov8"
score_threshold = 0.25
iou_threshold = 0.45

[mapping.a]
taxonomy = "nudity.partial"
threshold = 0.5

[mapping.b]
taxonomy = "face"
threshold = 0.5
"""


def write_model(folder: Path, kind: str) -> Path:
    """Write a tiny model + manifest into ``folder``; returns the manifest path."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "softmax":
        build, text = softmax_model, SOFTMAX_MANIFEST
    else:
        build, text = detector_model, DETECTOR_MANIFEST
    sha = build(folder / "tiny.onnx")
    manifest = folder / "manifest.toml"
    manifest.write_text(text.format(sha=sha), encoding="utf-8")
    return manifest

"""The in-memory graph rewrite (Softmax moved to the last axis) changes no output bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from plugin.classifiers.manifest import load_manifest
from tests.classifiers.conftest import MODELS
from workers.classifiers.graph import optimised_model, softmax_last_axis
from workers.classifiers.preprocess import make_batch


def _cpu(source: str | bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])


def _softmax_model(path: Path, axis: int, opset: int) -> Path:
    """x (n, 4, 16, 5) -> Transpose -> Softmax(axis) -> Mul: the NudeNet head's shape."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4, 16, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1, 3]),
        helper.make_node("Softmax", ["t"], ["s"], axis=axis),
        helper.make_node("Mul", ["s", "two"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "head", [x], [y], [two])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_non_last_axis_softmax_is_rewritten_bit_identically(tmp_path: Path) -> None:
    path = _softmax_model(tmp_path / "m.onnx", axis=1, opset=17)
    rewritten = optimised_model(path)
    assert rewritten is not None
    ops = [n.op_type for n in onnx.load_from_string(rewritten).graph.node]
    assert ops == ["Transpose", "Transpose", "Softmax", "Transpose", "Mul"]
    x = np.random.default_rng(0).standard_normal((3, 4, 16, 5)).astype(np.float32) * 4
    expected = _cpu(str(path)).run(None, {"x": x})[0]
    got = _cpu(rewritten).run(None, {"x": x})[0]
    assert got.shape == (3, 16, 4, 5)
    assert np.array_equal(got, expected)
    assert np.allclose(got.sum(axis=1), 2.0, atol=1e-5)  # still a softmax over axis 1


def test_models_without_anything_to_rewrite_are_left_alone(tmp_path: Path) -> None:
    assert optimised_model(_softmax_model(tmp_path / "last.onnx", axis=-1, opset=17)) is None
    assert optimised_model(_softmax_model(tmp_path / "three.onnx", axis=3, opset=17)) is None
    # before opset 13 Softmax(axis=1) means "flatten to 2-D at 1": not ours to move
    old = onnx.load(str(_softmax_model(tmp_path / "old.onnx", axis=1, opset=11)))
    assert softmax_last_axis(old) == 0


def test_shipped_nudenet_outputs_are_unchanged(corpus: dict) -> None:
    manifest = load_manifest(MODELS / "nudenet-320n" / "manifest.toml")
    rewritten = optimised_model(manifest.weights)
    assert rewritten is not None  # its DFL head has the non-last-axis Softmax
    names = ["001-skimage.jpg", "049-mate.jpg", "072-hugin.jpg"]
    batch, _ = make_batch([corpus[n] for n in names], manifest.input)
    expected = _cpu(str(manifest.weights)).run(None, {"images": batch})[0]
    assert np.array_equal(_cpu(rewritten).run(None, {"images": batch})[0], expected)

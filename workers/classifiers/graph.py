"""Exact graph rewrites made in memory before onnxruntime builds a session.

onnxruntime runs a Softmax over a non-last axis by transposing that axis to the end, running
its last-axis kernel and transposing back, on every call. NudeNet's YOLOv8 head does this on
its (batch, 16, 4, 2100) box-distribution tensor: 1.1 ms of the model's 22 ms per image on
one core. Putting the Transposes into the graph (axis moved last, plain last-axis Softmax,
moved back) gives onnxruntime's optimiser two ordinary Transposes to merge with their
neighbours: the same kernel on the same numbers, so the outputs are bit-identical
(tests/classifiers/test_graph.py), at 0.2 ms.

Like onnxruntime's own graph optimisations this is done in memory when the session is built:
the weights file stays the verified, unmodified one, and nothing is cached or written.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

MIN_SOFTMAX_OPSET = 13  # before opset 13 Softmax flattens to 2-D: axis means something else


def optimised_model(path: str | Path) -> bytes | None:
    """The model at ``path`` with every rewrite applied, or None when none applies."""
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is a worker dependency
        log.warning("onnx is not installed: %s runs without graph rewrites", path)
        return None
    model = onnx.load(str(path))
    if not softmax_last_axis(model):
        return None
    return model.SerializeToString()


def _opset(model) -> int:  # type: ignore[no-untyped-def]
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


def _ranks(model) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Rank of every tensor whose rank shape inference (or the graph itself) knows."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception as exc:  # a model shape inference cannot handle: rewrite nothing
        log.debug("shape inference failed: %s", exc)
        return {}
    g = inferred.graph
    ranks = {}
    for v in [*g.input, *g.value_info, *g.output]:
        if v.type.HasField("tensor_type") and v.type.tensor_type.HasField("shape"):
            ranks[v.name] = len(v.type.tensor_type.shape.dim)
    for t in g.initializer:
        ranks[t.name] = len(t.dims)
    return ranks


def softmax_last_axis(model) -> int:  # type: ignore[no-untyped-def]
    """Rewrite each top-level Softmax(axis=k), k not last, as Transpose -> Softmax(-1) ->
    Transpose. Returns how many were rewritten (the model is changed in place)."""
    from onnx import helper

    if _opset(model) < MIN_SOFTMAX_OPSET:
        return 0
    graph = model.graph

    def is_softmax(node) -> bool:  # type: ignore[no-untyped-def]
        return node.op_type == "Softmax" and node.domain in ("", "ai.onnx")

    if not any(is_softmax(n) for n in graph.node):
        return 0
    ranks = _ranks(model)
    rewritten = 0
    nodes = []
    for node in graph.node:
        rank = ranks.get(node.input[0]) if is_softmax(node) else None
        axis = next((a.i for a in node.attribute if a.name == "axis"), -1)
        if rank is None or axis % rank == rank - 1:
            nodes.append(node)
            continue
        axis %= rank
        perm = [i for i in range(rank) if i != axis] + [axis]
        back = [perm.index(i) for i in range(rank)]
        moved, soft = f"{node.output[0]}__last_in", f"{node.output[0]}__last_out"
        nodes += [
            helper.make_node("Transpose", [node.input[0]], [moved], perm=perm),
            helper.make_node("Softmax", [moved], [soft], name=node.name, axis=-1),
            helper.make_node("Transpose", [soft], [node.output[0]], perm=back),
        ]
        rewritten += 1
    if rewritten:
        del graph.node[:]
        graph.node.extend(nodes)
    return rewritten

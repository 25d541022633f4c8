"""Vectorised decoding of model outputs: softmax, YOLOv8 boxes, SSD anchor boxes, NMS.

NudeNet's reference post-processing loops in Python over all 2100 candidate rows per image
(about 5 ms); here thresholding, box maths and clipping are numpy array operations, and the
greedy NMS loop only iterates over the few boxes that survive (usually none on benign images).
The arithmetic (clip order, strict ``>`` score test, IoU without +1) mirrors OpenCV's
``NMSBoxes`` so the kept boxes equal the reference.
"""

from __future__ import annotations

import numpy as np

from plugin.classifiers.manifest import OutputSpec
from workers.classifiers.preprocess import Transform

# (labels index, score, x, y, w, h) rows in source pixels
Boxes = tuple[np.ndarray, np.ndarray, np.ndarray]  # class ids, scores, xywh (n, 4)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def nms(xywh: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS over (x, y, w, h) boxes; indices kept, best score first."""
    order = np.argsort(-scores, kind="stable")
    x1, y1 = xywh[:, 0], xywh[:, 1]
    x2, y2 = x1 + xywh[:, 2], y1 + xywh[:, 3]
    area = xywh[:, 2] * xywh[:, 3]
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        union = area[i] + area[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def _to_source(xyxy: np.ndarray, tf: Transform) -> np.ndarray:
    """Input-pixel (x1, y1, x2, y2) -> clipped source-pixel (x, y, w, h), NudeNet-style."""
    x = (xyxy[:, 0] - tf.ox) / tf.sx
    y = (xyxy[:, 1] - tf.oy) / tf.sy
    w = (xyxy[:, 2] - xyxy[:, 0]) / tf.sx
    h = (xyxy[:, 3] - xyxy[:, 1]) / tf.sy
    x = np.clip(x, 0, tf.width)
    y = np.clip(y, 0, tf.height)
    w = np.minimum(w, tf.width - x)
    h = np.minimum(h, tf.height - y)
    return np.stack([x, y, w, h], axis=1)


def _select(
    cls: np.ndarray, scores: np.ndarray, xyxy: np.ndarray, tf: Transform, spec: OutputSpec
) -> Boxes:
    keep = scores > spec.score_threshold
    cls, scores, xyxy = cls[keep], scores[keep], xyxy[keep]
    if not scores.size:
        return cls, scores, np.zeros((0, 4), dtype=np.float32)
    xywh = _to_source(xyxy.astype(np.float64), tf)
    if spec.class_agnostic_nms:
        idx = nms(xywh, scores, spec.iou_threshold)
    else:  # shift each class far apart so one NMS pass never mixes classes
        shift = (cls * (max(tf.width, tf.height) + 1.0))[:, None]
        shifted = xywh.copy()
        shifted[:, :2] += shift
        idx = nms(shifted, scores, spec.iou_threshold)
    idx = idx[: spec.max_detections]
    return cls[idx], scores[idx], xywh[idx]


def decode_yolov8(output: np.ndarray, tf: Transform, spec: OutputSpec) -> Boxes:
    """One image's (4 + classes, anchors) output: centre boxes in input pixels + class scores."""
    class_scores = output[4:]
    cls = class_scores.argmax(axis=0)
    scores = class_scores[cls, np.arange(class_scores.shape[1])]
    cx, cy, w, h = output[0], output[1], output[2], output[3]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return _select(cls, scores, xyxy, tf, spec)


def ssd_anchors(spec: OutputSpec, width: int, height: int) -> np.ndarray:
    """(n, 2) anchor centres in [0, 1], MediaPipe SSD order (row, column, anchor)."""
    centres = []
    for stride, per_cell in zip(spec.anchor_strides, spec.anchors_per_cell, strict=True):
        gw, gh = -(-width // stride), -(-height // stride)
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        grid = np.stack([(xs + spec.anchor_offset) / gw, (ys + spec.anchor_offset) / gh], -1)
        centres.append(np.repeat(grid.reshape(-1, 2), per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def decode_ssd(
    regressors: np.ndarray,
    logits: np.ndarray,
    anchors: np.ndarray,
    tf: Transform,
    spec: OutputSpec,
    size: tuple[int, int],
) -> Boxes:
    """One image's BlazeFace-style outputs: (n, 4+) offsets from anchors and (n, 1+) scores."""
    width, height = size
    scores = logits.reshape(logits.shape[0], -1)
    if spec.score_activation == "sigmoid":
        scores = 1.0 / (1.0 + np.exp(-np.clip(scores, -80.0, 80.0)))
    cls = scores.argmax(axis=1)
    best = scores[np.arange(scores.shape[0]), cls]
    cx = anchors[:, 0] * width + regressors[:, 0]
    cy = anchors[:, 1] * height + regressors[:, 1]
    w, h = regressors[:, 2], regressors[:, 3]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    valid = (w > 0) & (h > 0)
    return _select(cls[valid], best[valid], xyxy[valid], tf, spec)

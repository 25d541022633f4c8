"""The classifier protocol that workers implement and policies consume.

Callers decode an upload once into an RGB ``PIL.Image`` (or an HxWx3 uint8 array) and hand the
same object to every classifier; each classifier resizes for its own model.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from plugin.classifiers.verdict import Verdict

ImageLike = np.ndarray | Image.Image


@runtime_checkable
class ImageClassifier(Protocol):
    """Anything that turns decoded images into one :class:`Verdict` each, in order."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def classify(self, images: list[ImageLike]) -> list[Verdict]: ...

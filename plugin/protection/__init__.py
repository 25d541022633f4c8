"""Protection: protected pictures and the per-process matcher that finds edited copies.

``register_bytes`` turns a picture into a protected row (fingerprint, PDQ, SHA-256);
``ProtectedMatcher`` keeps a ``plugin.derivatives.DerivativeIndex`` current from the
``protected_changes`` log and answers "which protected pictures is this an edit of?".
"""

from plugin.protection.matcher import ProtectedMatcher
from plugin.protection.register import picture_input, register_bytes

__all__ = ["ProtectedMatcher", "picture_input", "register_bytes"]

"""Consentry: keeps abusive media, and non-consensual AI edits, out of fediverse servers.

``plugin`` holds the web app and the shared domain code; ``workers`` holds the RQ jobs.
Nothing in ``plugin`` imports onnxruntime: classifiers run only in worker processes.
"""

__version__ = "0.1.0"

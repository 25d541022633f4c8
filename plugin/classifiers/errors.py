"""Errors raised while loading classifier models.

Kept in its own module so both the web process (manifest checks) and the workers (sessions)
raise the same type, part of the project's one error hierarchy.
"""

from __future__ import annotations

from plugin.errors import ConfigError


class ModelError(ConfigError):
    """A model manifest or its weights file is missing, malformed or fails verification."""

    code = "model_error"

"""Access to the app's ``Services`` from a request."""

from __future__ import annotations

from flask import current_app

from plugin.services import Services


def services() -> Services:
    return current_app.extensions["consentry"]

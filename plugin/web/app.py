"""The Flask app factory: a table of contents, nothing more.

No network, threads or migrations happen here; ``consentry up``/``consentry web`` migrate the
database before serving. Gunicorn loads ``plugin.web.app:create_app()``.
"""

from __future__ import annotations

from flask import Flask

from plugin.services import Services
from plugin.settings import Settings
from plugin.web import (
    admin_api,
    banks_api,
    consent,
    dashboard,
    errors,
    federation,
    gate,
    health,
    intake,
    misskey,
    moderator_auth,
    protected_api,
    review,
    webhooks,
)


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    settings = settings or (services.settings if services else Settings.from_env())
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max(settings.webhook_max_bytes, settings.media_max_bytes)
    app.extensions["consentry"] = services or Services.from_settings(settings)
    for bp in (webhooks.bp, admin_api.bp, banks_api.bp, health.bp, federation.bp, misskey.bp,
               moderator_auth.bp, review.bp, intake.bp, gate.bp, dashboard.bp,
               protected_api.bp, consent.bp):
        app.register_blueprint(bp)
    dashboard.mount_rq_dashboard(app)
    errors.register(app)
    return app

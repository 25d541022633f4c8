"""Moderator sign-in: the plugin's own accounts, signed session cookies, CSRF tokens.

Why our own accounts rather than OAuth against the instance: the review queue shows the
worst media an instance receives, and who may see it is a narrower question than who holds
an admin role on Mastodon; own accounts also work the same on Misskey, need no OAuth app
registration, and keep working while the instance is down. Passwords are argon2id
(``plugin.review.passwords``); accounts are made with ``consentry moderators add NAME``.

Sessions are Flask's signed cookies (``HttpOnly``, ``SameSite=Strict``, ``Secure`` behind
https, ``CONSENTRY_SESSION_HOURS`` long) holding the moderator id and a session epoch that a
password change or disable bumps, ending every open session. The key is
``CONSENTRY_SESSION_SECRET`` or, when unset, derived from the admin token (HMAC), so every
web process on every host agrees without a new secret to distribute. Each session carries
a random CSRF token that every state-changing form posts back (checked in constant time);
``SameSite=Strict`` is the second line. Failed sign-ins are rate-limited per address in Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState

from plugin import redis_keys
from plugin.errors import ConfigError, Forbidden, RateLimited
from plugin.review.passwords import verify_password
from plugin.storage.review_store import ReviewStore
from plugin.web.context import services

bp = Blueprint("moderator_auth", __name__, url_prefix="/review")
LOGIN_FAILURES = 10
LOGIN_WINDOW_S = 900


@bp.record_once
def _configure(state: BlueprintSetupState) -> None:
    app = state.app
    settings = app.extensions["consentry"].settings
    secret = settings.session_secret
    if not secret and settings.admin_token:
        secret = hmac.new(settings.admin_token.encode(), b"consentry moderator sessions",
                          hashlib.sha256).hexdigest()
    if secret:
        app.secret_key = secret
    app.config.update(SESSION_COOKIE_NAME="consentry_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours))
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_moderator"] = current_moderator


def review_store() -> ReviewStore:
    return ReviewStore(services().db)


def csrf_token() -> str:
    if not current_app.secret_key:
        raise ConfigError("moderator sign-in needs CONSENTRY_SESSION_SECRET or an admin token")
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """For every state-changing request of the moderators' and the public forms."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("missing or stale form token; reload the page and try again")


def current_moderator() -> dict[str, Any] | None:
    if "moderator" in g:
        return g.moderator
    found = None
    ident = session.get("moderator")
    if isinstance(ident, dict):
        row = review_store().moderator_get(int(ident.get("id", 0)))
        if row and row["active"] and row["session_epoch"] == ident.get("epoch"):
            found = row
    g.moderator = found
    return found


def require_moderator(role: str | None = None) -> Callable[..., Any]:
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            moderator = current_moderator()
            if moderator is None:
                return redirect(url_for("moderator_auth.login", next=request.full_path))
            if role == "admin" and moderator["role"] != "admin":
                raise Forbidden("this page is for admins")
            return view(*args, **kwargs)
        return wrapper
    return decorate


def secure_headers(response: Any) -> Any:
    """Moderator pages: no framing, no caching of what was seen, only our own scripts."""
    response.headers.setdefault(
        "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


bp.before_request(check_csrf)
bp.after_request(secure_headers)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        svc = services()
        key = redis_keys.rate_limit("login", request.remote_addr or "?")
        if int(svc.redis.get(key) or 0) >= LOGIN_FAILURES:
            raise RateLimited("too many failed sign-ins; wait 15 minutes")
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        store = review_store()
        row = store.moderator_find(name)
        ok, rehash = verify_password(row["password_hash"] if row else None, password)
        if ok and row and row["active"]:
            if rehash:
                from plugin.review.passwords import hash_password

                store.moderator_update(name, password_hash=hash_password(password))
                row = store.moderator_find(name) or row
            session.clear()  # a fresh session: no fixation
            session.permanent = True
            session["moderator"] = {"id": row["id"], "epoch": row["session_epoch"]}
            store.moderator_logged_in(row["id"])
            svc.audit.audit_append(actor=f"moderator:{name}", action="moderator.login",
                                   subject=request.remote_addr, outcome="done")
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/review") else url_for("review.queue"))
        pipe = svc.redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, LOGIN_WINDOW_S)
        pipe.execute()
        error = "Wrong name or password."
    return render_template("review/login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("moderator_auth.login"))

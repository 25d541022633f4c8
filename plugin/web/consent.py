"""The consent page (``/consent``), the public ``consent/check`` API and the peer endpoints.

Sign-in is OAuth 2 (authorization code, PKCE, scope ``read:accounts``) against the person's
Mastodon instance (``CONSENTRY_CONSENT_OAUTH_URL``, default ``CONSENTRY_INSTANCE_URL``),
through Authlib; the app registration is made once and kept in ``kv``. We ask only who the
person is (``verify_credentials``) and revoke the token at once: Consentry never acts as them.

The person's session is its own signed cookie (``consentry_consent``: HttpOnly, ``Secure``
behind https, ``SameSite=Lax`` — the OAuth redirect back from the instance is a cross-site
navigation, which a ``Strict`` cookie would not survive), holding the actor URI, the OAuth
``state`` and PKCE verifier while signing in, and a CSRF token that the choice form posts back
(compared in constant time). The form works without JavaScript (post/redirect/get).

The page also lists the person's protected pictures, each with its post and a "stop
protecting" button: Mastodon says nothing when a post is deleted, and the reconciliation job
can only see public posts, so for a followers-only or direct post the person is the one who
knows it is gone.

Peer endpoints (signed requests from active peers, signed responses):
``GET /federation/v1/consent/fingerprint/<sha256>`` (the derivative fingerprint of one of
our people's public protected pictures) and ``POST /federation/v1/consent/notify`` (a peer
caught an AI edit of one of our people's pictures: we send them a direct message).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from plugin import redis_keys
from plugin.consent.actors import is_local, local_actor
from plugin.consent.check import answer, pdq_matches
from plugin.consent.choices import change_choice, withdraw_picture
from plugin.consent.registration import backfill_progress, consent_store
from plugin.errors import BadRequest, ConfigError, Forbidden, NotFound, RateLimited, Unauthorized
from plugin.media.decode import decode_image
from plugin.media.fetch import FetchPolicy, fetch_media
from plugin.storage.consent_store import CHOICES
from plugin.storage.protected_store import ProtectedStore
from plugin.web.auth import require_admin
from plugin.web.context import services
from plugin.web.moderator_auth import secure_headers
from plugin.web.protected_api import protected_matcher, public_matches, uploaded_image

bp = Blueprint("consent", __name__)
COOKIE = "consentry_consent"
SCOPE = "read:accounts"
PICTURES_SHOWN = 200
LABELS = {"not_allowed": "Not allowed", "allowed": "Allowed", "ask": "Ask me first"}


# -- the person's cookie -----------------------------------------------------------------------
def _serializer() -> URLSafeTimedSerializer:
    if not current_app.secret_key:
        raise ConfigError("the consent page needs CONSENTRY_SESSION_SECRET or an admin token")
    return URLSafeTimedSerializer(current_app.secret_key, salt="consentry consent session")


def _max_age() -> int:
    return services().settings.session_hours * 3600


def read_cookie() -> dict[str, Any]:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        value = _serializer().loads(raw, max_age=_max_age())
    except BadSignature:
        return {}
    return value if isinstance(value, dict) else {}


def write_cookie(response: Response, value: dict[str, Any]) -> Response:
    response.set_cookie(COOKIE, _serializer().dumps(value), max_age=_max_age(), httponly=True,
                        samesite="Lax", secure=services().settings.base_url.startswith("https"),
                        path="/")
    return response


def _check_csrf(person: dict[str, Any]) -> None:
    sent = request.form.get("csrf_token", "")
    expected = person.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("missing or stale form token; reload the page and try again")


@bp.after_request
def _headers(response: Response) -> Response:
    if request.path.startswith("/consent"):
        return secure_headers(response)
    return response


# -- OAuth sign-in -------------------------------------------------------------------------
def _instance_url() -> str:
    s = services().settings
    url = s.consent_oauth_url or s.instance_url
    if not url:
        raise ConfigError("sign-in needs CONSENTRY_CONSENT_OAUTH_URL or CONSENTRY_INSTANCE_URL")
    return url.rstrip("/")


def _redirect_uri() -> str:
    return services().settings.base_url.rstrip("/") + "/consent/callback"


def _oauth_app() -> dict[str, str]:
    """Our OAuth app on the instance, registered on first use and kept in ``kv``."""
    import requests

    svc, base = services(), _instance_url()
    key = "consent.oauth_app:" + hashlib.sha256(f"{base} {_redirect_uri()}".encode()
                                                ).hexdigest()[:32]
    app = svc.kv.kv_get(key)
    if app:
        return app
    response = requests.post(f"{base}/api/v1/apps", timeout=20, data={
        "client_name": "Consentry consent", "redirect_uris": _redirect_uri(), "scopes": SCOPE,
        "website": svc.settings.base_url})
    if response.status_code >= 400:
        raise ConfigError(f"could not register the OAuth app on {base}: {response.status_code}")
    body = response.json()
    app = {"client_id": body["client_id"], "client_secret": body["client_secret"]}
    svc.kv.kv_set(key, app)
    return app


def _oauth_session(**kwargs: Any) -> Any:
    from authlib.integrations.requests_client import OAuth2Session

    app = _oauth_app()
    return OAuth2Session(app["client_id"], app["client_secret"], scope=SCOPE,
                         redirect_uri=_redirect_uri(), code_challenge_method="S256",
                         token_endpoint_auth_method="client_secret_post", **kwargs)


@bp.get("/consent/login")
def login():
    verifier = secrets.token_urlsafe(48)
    url, state = _oauth_session().create_authorization_url(
        _instance_url() + "/oauth/authorize", code_verifier=verifier)
    return write_cookie(redirect(url), {"state": state, "verifier": verifier})


@bp.get("/consent/callback")
def callback():
    import requests

    pending = read_cookie()
    state = request.args.get("state", "")
    if not pending.get("state") or not hmac.compare_digest(state.encode(),
                                                           pending["state"].encode()):
        raise Forbidden("sign-in expired or was not started here; start again")
    if "code" not in request.args:
        raise Unauthorized("the instance did not authorise the sign-in")
    base = _instance_url()
    oauth = _oauth_session(state=state)
    token = oauth.fetch_token(base + "/oauth/token", code=request.args["code"],
                              code_verifier=pending["verifier"], grant_type="authorization_code")
    me = requests.get(base + "/api/v1/accounts/verify_credentials", timeout=20,
                      headers={"Authorization": f"Bearer {token['access_token']}"})
    if me.status_code != 200:
        raise Unauthorized("the instance did not tell us who you are")
    account = me.json()
    try:  # we needed the identity only: give the token back
        requests.post(base + "/oauth/revoke", timeout=10,
                      data={"token": token["access_token"], **_oauth_app()})
    except requests.RequestException:
        pass
    person = {"actor": local_actor(services().settings, account["username"]),
              "account_id": str(account["id"]), "acct": account.get("acct"),
              "name": account.get("display_name") or account["username"],
              "csrf": secrets.token_urlsafe(32)}
    services().audit.audit_append(actor=person["actor"], action="consent.sign_in",
                                  subject=request.remote_addr, outcome="done")
    return write_cookie(redirect("/consent"), person)


@bp.post("/consent/logout")
def logout():
    person = read_cookie()
    if person.get("actor"):
        _check_csrf(person)
    response = redirect("/consent")
    response.delete_cookie(COOKIE, path="/")
    return response


# -- the page --------------------------------------------------------------------------------
@bp.get("/consent")
def page():
    person = read_cookie()
    store = consent_store(services())
    default = store.default_get()
    view: dict[str, Any] = {"person": None, "default": default, "labels": LABELS,
                            "choices": CHOICES, "saved": request.args.get("saved")}
    if person.get("actor"):
        row = store.consent_get(person["actor"])
        view.update(person=person, current=row["choice"] if row else None,
                    effective=(row["choice"] if row else default),
                    history=store.consent_history(person["actor"]),
                    progress=backfill_progress(services(), person["actor"]),
                    **_pictures(person["actor"]))
    return render_template("consent/page.html", **view)


def _pictures(actor: str) -> dict[str, Any]:
    """The person's protected pictures, newest first (the page lists the latest ones)."""
    pictures = ProtectedStore(services().db).protected_find(owner=actor, origin="local")
    base = (services().settings.instance_url or "").rstrip("/")
    user = actor.rstrip("/").rsplit("/", 1)[-1]
    for picture in pictures:
        picture["post_url"] = (f"{base}/@{user}/{picture['status_id']}"
                               if base and picture["status_id"] else None)
    return {"protected": len(pictures), "pictures": pictures[::-1][:PICTURES_SHOWN]}


@bp.post("/consent/pictures/<int:picture_id>/withdraw")
def withdraw(picture_id: int):
    person = read_cookie()
    if not person.get("actor"):
        raise Unauthorized("sign in first")
    _check_csrf(person)
    withdraw_picture(services(), person["actor"], picture_id)
    return redirect("/consent?saved=1#pictures", code=303)


@bp.post("/consent")
def choose():
    person = read_cookie()
    if not person.get("actor"):
        raise Unauthorized("sign in first")
    _check_csrf(person)
    choice = request.form.get("choice", "")
    if choice not in CHOICES:
        raise BadRequest(f"choice must be one of {', '.join(CHOICES)}")
    change_choice(services(), person["actor"], choice, via="consent_page",
                  account_id=person.get("account_id"), acct=person.get("acct"))
    return redirect("/consent?saved=1", code=303)


# -- admin: the instance default ---------------------------------------------------------
@bp.get("/api/v1/consent/default")
@require_admin
def default_get():
    return jsonify({"default": consent_store(services()).default_get()})


@bp.put("/api/v1/consent/default")
@require_admin
def default_set():
    body = request.get_json(silent=True) or {}
    consent_store(services()).default_set(str(body.get("default", "")), by="admin-api")
    services().audit.audit_append(actor="admin-api", action="consent.default",
                                  subject=str(body.get("default")), outcome="done")
    return jsonify({"default": consent_store(services()).default_get()})


# -- the public check ----------------------------------------------------------------------
def _rate_limit() -> None:
    svc = services()
    limit = svc.settings.consent_check_rate_per_min
    if not limit:
        return
    key = redis_keys.rate_limit(f"consent-check:{int(time.time() // 60)}",
                                request.remote_addr or "?")
    pipe = svc.redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, 120)
    if pipe.execute()[0] > limit:
        raise RateLimited("too many consent checks; wait a minute")


def _check_bytes(data: bytes) -> dict[str, Any]:
    image = decode_image(data, max_pixels=services().settings.media_max_pixels).image
    found = protected_matcher().match(image)
    return {**answer(services(), found), "derivative_matches": public_matches(found)}


def _media_for_post(url: str) -> str | None:
    """A post URL of this instance: the URL of its first scanned image."""
    from sqlalchemy import select

    from plugin.storage.models import MediaScan

    with services().db.session() as s:
        return s.scalar(select(MediaScan.url).where(MediaScan.status_url == url,
                                                    MediaScan.media_type == "image").limit(1))


@bp.post("/api/v1/consent/check")
def check_post():
    _rate_limit()
    return jsonify(_check_bytes(uploaded_image()))


@bp.get("/api/v1/consent/check")
def check_get():
    _rate_limit()
    if request.args.get("pdq"):
        return jsonify(answer(services(), pdq_matches(services(), request.args["pdq"].lower())))
    url = request.args.get("url", "")
    if not url.startswith(("http://", "https://")):
        raise BadRequest("give an image upload (POST), url= or pdq=")
    target = _media_for_post(url) or url
    fetched = fetch_media(target, FetchPolicy.from_settings(services().settings))
    return jsonify(_check_bytes(fetched.data))


# -- peer endpoints ----------------------------------------------------------------------------
def _peer() -> dict[str, Any]:
    from plugin.web.federation import _active_caller

    return _active_caller()


@bp.get("/federation/v1/consent/fingerprint/<sha256>")
def peer_fingerprint(sha256: str):
    _peer()
    store = ProtectedStore(services().db)
    blob = store.protected_fingerprint(sha256.lower())
    if blob is None:
        raise NotFound("no public protected picture with this hash")
    pdq = next((p["pdq"] for p in store.protected_find(sha256=sha256.lower(), origin="local")
                if p["visibility"] == "public"), None)
    return jsonify({"sha256": sha256.lower(), "pdq": pdq,
                    "fingerprint": base64.b64encode(blob).decode()})


@bp.post("/federation/v1/consent/notify")
def peer_notify():
    from plugin.queueing import enqueue_unique

    peer = _peer()
    body = json.loads(request.get_data() or b"{}")
    owner = body.get("owner") if isinstance(body, dict) else None
    if not isinstance(owner, str) or not is_local(services().settings, owner):
        raise Forbidden("you can only notify this instance's own people")
    if not consent_store(services()).consent_get(owner) and \
            not ProtectedStore(services().db).protected_find(owner=owner, limit=1):
        raise NotFound("no such protected person")
    finding = {k: body.get(k) for k in ("owner", "category", "status_url", "poster",
                                        "protected_sha256", "score", "seen_on")}
    finding["seen_on"] = peer["domain"]
    job = hashlib.sha256(json.dumps(finding, sort_keys=True).encode()).hexdigest()[:32]
    enqueue_unique(services().redis, "act", "workers.consent.notify_local_job", finding,
                   job_id=f"consent-notify-local-{job}")
    return Response(status=202)


@bp.after_request
def _sign_peer(response: Response) -> Response:
    if not request.path.startswith("/federation/"):
        return response
    from plugin.federation.context import federation
    from plugin.federation.http_signatures import sign_response

    fed = federation(services())
    headers = sign_response(response.status_code, dict(response.headers),
                            response.get_data() or None, fed.identity.private_key, fed.key_url)
    response.headers.update(headers)
    return response

"""The review queue: pages for moderators (server-rendered, usable without JavaScript).

``/review/`` lists what needs a human, gravest deadline first, with filters (category, peer,
age) and counts; ``/review/items/<id>`` shows one item in full; decisions are plain form
posts. Previews come from ``/review/media/<id>``, blurred and greyscale unless this one item
was revealed (``?reveal=1``, written to the audit log); a derivative item also shows the
protected original beside it (``/review/items/<id>/original/<protected id>``, the same blur
and audit; ``plugin.review.originals``). A little vanilla JS
(``static/review/review.js``) adds keyboard shortcuts and in-place reveal.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from plugin.errors import BadRequest, ConsentryError, NotFound
from plugin.review import decisions, items, legal_hold, originals, previews, statements
from plugin.storage.review_store import OPEN_STATES
from plugin.web.context import services
from plugin.web.moderator_auth import (
    check_csrf,
    current_moderator,
    require_moderator,
    review_store,
    secure_headers,
)

bp = Blueprint("review", __name__, url_prefix="/review", template_folder="templates",
               static_folder="static", static_url_path="/static")
bp.before_request(check_csrf)
bp.after_request(secure_headers)
AGES = {"": None, "1h": 1, "24h": 24, "72h": 72}


@bp.get("/")
@require_moderator()
def queue():
    store = review_store()
    age = request.args.get("age", "")
    if age not in AGES:
        raise BadRequest(f"age is one of {', '.join(a for a in AGES if a)}")
    now = datetime.now(UTC)
    older = now - timedelta(hours=AGES[age]) if AGES[age] else None
    state = request.args.get("state", "open")
    states = OPEN_STATES if state == "open" else ("escalated",) if state == "escalated" else (
        ("confirmed", "dismissed") if state == "decided" else OPEN_STATES)
    rows = [items.item_view(store, row["id"], now) for row in store.items_list(
        states=states, category=request.args.get("category") or None,
        peer=request.args.get("peer") or None, older_than=older)]
    return render_template("review/queue.html", items=rows, counts=store.items_count(),
                           banks=services().banks.bank_list(), filters=request.args,
                           reveal=request.args.get("reveal", type=int), state=state,
                           overdue=sum(1 for r in rows if r.get("overdue")))


@bp.get("/items/<int:item_id>")
@require_moderator()
def item(item_id: int):
    store = review_store()
    return render_template("review/item.html", item=items.item_view(store, item_id),
                           banks=services().banks.bank_list(),
                           reveal=request.args.get("reveal") == "1",
                           reveal_original=request.args.get("reveal_original", type=int))


@bp.get("/media/<int:item_id>")
@require_moderator()
def media(item_id: int):
    svc = services()
    row = review_store().item_get(item_id)
    if not row["media_url"]:
        raise NotFound("this item has no media URL")
    reveal = request.args.get("reveal") == "1"
    if reveal:
        svc.audit.audit_append(actor=f"moderator:{current_moderator()['name']}",
                               action="review.reveal", subject=f"review:{item_id}",
                               outcome="done")
    try:
        body = previews.preview(svc.settings, row["media_url"], reveal=reveal)
    except ConsentryError as exc:
        raise NotFound(f"preview unavailable: {exc.message}") from None
    return Response(body, mimetype="image/jpeg")


@bp.get("/items/<int:item_id>/original/<int:protected_id>")
@require_moderator()
def original(item_id: int, protected_id: int):
    """The protected original an item's derivative match points at, blurred unless revealed.

    Only through an item that matched it: a moderator cannot page through protected pictures.
    """
    svc = services()
    view = next((o for o in items.item_view(review_store(), item_id)["originals"]
                 if o["protected_id"] == protected_id), None)
    if view is None or not view["url"]:
        raise NotFound("no preview of that original for this item")
    reveal = request.args.get("reveal") == "1"
    if reveal:
        svc.audit.audit_append(actor=f"moderator:{current_moderator()['name']}",
                               action="review.reveal_original", subject=f"review:{item_id}",
                               outcome="done", detail={"protected_id": protected_id})
    try:
        body = originals.original_preview(svc.settings, view["url"], reveal=reveal)
    except ConsentryError as exc:
        raise NotFound(f"preview unavailable: {exc.message}") from None
    return Response(body, mimetype="image/jpeg")


@bp.post("/items/<int:item_id>/decision")
@require_moderator()
def decide(item_id: int):
    moderator = current_moderator()["name"]
    deps = decisions.ReviewDeps.from_services(services())
    decision = request.form.get("decision", "")
    note = request.form.get("note") or None
    if decision == "confirm":
        bank = request.form.get("bank", "")
        if not bank:
            raise BadRequest("choose the bank to add the picture to")
        result = decisions.confirm(deps, item_id, moderator=moderator, bank=bank, note=note)
        flash(f"Item {item_id} confirmed: added to {bank}, {len(result['actions'])} "
              f"action(s) queued.")
    elif decision == "dismiss":
        result = decisions.dismiss(deps, item_id, moderator=moderator, note=note,
                                   allowlist=request.form.get("allowlist") == "1")
        flash(f"Item {item_id} dismissed" + (" and allowlisted." if result["allowlisted"]
                                             else "."))
    elif decision == "escalate":
        decisions.escalate(deps, item_id, moderator=moderator, note=note)
        flash(f"Item {item_id} escalated.")
    else:
        raise BadRequest(f"decision is one of {', '.join(decisions.DECISIONS)}")
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/review") else url_for("review.queue"))


@bp.get("/statements.<fmt>")
@require_moderator("admin")
def export_statements(fmt: str):
    if fmt not in ("jsonl", "csv"):
        raise NotFound("statements are exported as .jsonl or .csv")
    since = _date_arg("since")
    until = _date_arg("until")
    rows = statements.export_rows(review_store().statements_iter(
        since=since, until=until, restrictive_only=request.args.get("all") != "1"))
    body = statements.to_jsonl(rows) if fmt == "jsonl" else statements.to_csv(rows)
    mimetype = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename=statements-of-reasons.{fmt}"})


@bp.get("/items/<int:item_id>/hold")
@require_moderator("admin")
def hold(item_id: int):
    svc = services()
    purpose = request.args.get("purpose", "").strip()
    if not purpose:
        raise BadRequest("say why you open sealed evidence (?purpose=...); it is logged")
    return legal_hold.open_hold(review_store(), svc.audit, svc.settings, item_id,
                                accessor=f"moderator:{current_moderator()['name']}",
                                purpose=purpose)


def _date_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO date (YYYY-MM-DD)") from None

"""The review queue in a real browser (Playwright driving Debian's Chromium).

A moderator signs in, sees two automated ncii matches blurred, reveals one, confirms it into a
shared bank and dismisses the other (allowlisting it) with the keyboard; then the act worker
runs and we read the results where they land: bank entries, opinions, the allowlist, the
report on the Mastodon-API server, the gate's answers, and the statements of reasons.
A derivative item shows the upload beside the protected original, both blurred, each revealed
on its own. Set ``CONSENTRY_SCREENSHOTS=DIR`` to write the screenshots used in ``docs/``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from plugin.review.gate_index import GateIndex
from tests.review.conftest import MOD_PASSWORD, add_moderator
from tests.review.helpers import (
    LOCAL_OWNER,
    REMOTE_OWNER,
    post_photo,
    seed_banks,
    seed_derivative_items,
)
from tests.support.mastodon_server import MODERATOR_TOKEN
from workers.main import run_worker

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def images_loaded(page, timeout: float = 10.0) -> None:
    """Wait until every image is decoded. Polled from here: ``wait_for_function`` polls with
    ``eval`` inside the page, which the review pages' CSP (rightly) forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(
            "() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"):
        assert time.monotonic() < deadline, "images did not load"
        page.wait_for_timeout(50)


def shoot(page, name: str) -> None:
    target = os.environ.get("CONSENTRY_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=True)


@pytest.mark.slow
def test_moderator_confirms_one_item_and_dismisses_another(review_stack, live_app, browser):
    stack = review_stack
    seed_banks(stack, (5, 14))
    add_moderator(stack)
    status_a = post_photo(stack, 5, "9101")
    post_photo(stack, 14, "9102")
    store = stack.store
    [item_a, item_b] = store.items_list()
    assert (item_a["media_id"], item_b["media_id"]) == ("9101", "9102")
    gate = GateIndex(stack.services.redis)
    # Refused at once, before anyone looked; nothing reported yet (the rule waits for review).
    assert gate.lookup("/x/media_attachments/files/000/009/101/original/a.jpg")[0] == "ncii"
    mastodon = stack.mastodon.client(token=MODERATOR_TOKEN)
    assert mastodon.admin_reports() == []

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_app.url + "/review/")
    assert "/review/login" in page.url
    shoot(page, "login")
    page.fill("input[name=name]", "mod1")
    page.fill("input[name=password]", "wrong password!")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text() == "Wrong name or password."
    page.fill("input[name=name]", "mod1")
    page.fill("input[name=password]", MOD_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("article.item")
    assert page.locator("#count-open").inner_text() == "2"

    card_a = page.locator(f"#item-{item_a['id']}")
    card_b = page.locator(f"#item-{item_b['id']}")
    assert page.locator("img.blurred").count() == 2
    assert "reveal" not in card_a.locator("img").get_attribute("src")
    images_loaded(page)
    shoot(page, "queue")
    card_a.locator("a.reveal").click()
    assert "reveal=1" in card_a.locator("img").get_attribute("src")
    assert card_a.locator("img.revealed").count() == 1
    assert card_b.locator("img.blurred").count() == 1  # one at a time

    card_a.locator("select[name=bank]").select_option("confirmed-ncii")
    card_a.locator("form.confirm button").click()
    page.wait_for_selector(".flash")
    assert f"Item {item_a['id']} confirmed" in page.locator(".flash").inner_text()

    card_b = page.locator(f"#item-{item_b['id']}")
    card_b.locator("input[name=allowlist]").check()
    card_b.focus()
    page.keyboard.press("d")  # selects Dismiss; Enter decides
    assert page.evaluate("document.activeElement.dataset.key") == "d"
    page.keyboard.press("Enter")
    page.wait_for_selector(".flash")
    assert "dismissed and allowlisted" in page.locator(".flash").inner_text()
    assert page.locator("#count-open").inner_text() == "0"

    statements = page.request.get(live_app.url + "/review/statements.jsonl?all=1")
    assert statements.status == 200
    rows = [json.loads(line) for line in statements.text().splitlines()]
    page.goto(live_app.url + "/review/dashboard")
    assert page.locator("#queue-open").inner_text() == "0"
    shoot(page, "dashboard")
    page.goto(live_app.url + f"/review/items/{item_a['id']}")
    assert "confirm → confirmed-ncii" in page.locator("main").inner_text().replace("\n", " ")
    shoot(page, "item")
    page.goto(live_app.url + "/takedown")
    shoot(page, "takedown")

    run_worker(["act"], burst=True)

    exported = {(r["hash_type"], r["value"])
                for r in stack.services.banks.entries_export("confirmed-ncii")}
    assert exported == {("pdq", item_a["pdq"]), ("sha256", item_a["sha256"])}
    opinions = {(o["opinion"], o["bank"], o["value"], o["share"])
                for o in store.opinions_list()}
    assert ("true_positive", "confirmed-ncii", item_a["pdq"], True) in opinions
    seed_value = item_b["findings"][0]["match"]["value"]
    assert ("false_positive", "seed-ncii", seed_value, False) in opinions
    assert store.allowlisted({"sha256": item_b["sha256"]})

    [report] = mastodon.admin_reports()
    assert [str(s["id"]) for s in report["statuses"]] == [str(status_a["id"])]
    assert report["category"] == "legal"
    assert "confirmed" in report["comment"]

    assert gate.lookup("/s/media_attachments/files/000/009/101/small/a.jpg")[0] == "ncii"
    assert gate.lookup("/s/media_attachments/files/000/009/102/small/b.jpg")[0] is None

    decisions = {r["consentry_decision"]: r for r in rows}
    assert decisions["confirm"]["automated_detection"] == "Yes"
    assert decisions["confirm"]["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
    assert decisions["confirm"]["category"] == "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR"
    assert decisions["dismiss"]["decision_visibility"] == []
    assert decisions["refuse_pending_review"]["automated_decision"] == "AUTOMATED_DECISION_FULLY"


@pytest.mark.slow
def test_a_derivative_item_shows_the_protected_original_side_by_side(review_stack, live_app,
                                                                      browser):
    seeded = seed_derivative_items(review_stack)
    add_moderator(review_stack)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(live_app.url + f"/review/items/{seeded['9301']}")
    page.fill("input[name=name]", "mod1")
    page.fill("input[name=password]", MOD_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".side-by-side.derivative")
    suspect = page.locator(".side-by-side figure.suspect img")
    original = page.locator(".side-by-side figure.original img")
    for img in (suspect, original):  # both start blurred: server-side, and the CSS filter
        assert img.get_attribute("class") == "blurred"
        assert "reveal" not in img.get_attribute("src")
        assert "blur" in img.evaluate("i => getComputedStyle(i).filter")
    images_loaded(page)
    evidence = page.locator("figure.original dl.evidence").inner_text()
    assert "keypoints agree on one transformation" in evidence and "scaled to" in evidence
    assert LOCAL_OWNER in evidence
    shoot(page, "item-derivative")

    page.locator("figure.original a.reveal").click()  # one picture, on request
    assert original.get_attribute("class") == "revealed"
    assert "reveal=1" in original.get_attribute("src")
    assert suspect.get_attribute("class") == "blurred"  # the other stays blurred
    images_loaded(page)
    page.keyboard.press("v")  # the next blurred picture of this item
    assert suspect.get_attribute("class") == "revealed"
    audit = review_stack.services.audit.audit_list(action="review.reveal_original")
    assert [a["detail"]["protected_id"] for a in audit] == [seeded["local_pid"]]

    page.goto(live_app.url + f"/review/items/{seeded['9302']}")
    panel = page.locator("figure.original.remote")
    assert "Original held by b.example, not shared" in panel.inner_text()
    assert REMOTE_OWNER in panel.inner_text() and panel.locator("img").count() == 0
    assert page.locator("figure.suspect img.blurred").count() == 1

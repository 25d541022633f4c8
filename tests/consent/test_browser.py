"""The consent page in a real browser (Playwright driving Debian's Chromium).

alice signs in through the Mastodon-API server's OAuth authorization-code flow, sees the
instance default, sees her protected pictures and stops protecting the one of a followers-only
post she deleted, changes her choice twice with the keyboard-accessible form (no JavaScript
on the page), and the history and the stored choice follow; a form posted without the CSRF
token is refused.
"""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import sync_playwright

from plugin.protection.register import register_bytes
from plugin.storage.consent_store import ConsentStore
from plugin.storage.protected_store import ProtectedStore
from tests.conftest import corpus_photo
from tests.federation.instances import Instance
from tests.review.test_browser import ARGS, CHROMIUM
from tests.support.mastodon_server import MODERATOR_TOKEN, start_mastodon

ALICE = "https://a.test/users/alice"


@pytest.mark.slow
def test_sign_in_and_toggle(tmp_path, redis_url):
    mastodon = start_mastodon()
    a = Instance("a", tmp_path, redis_url, 1, instance_url=mastodon.base_url,
                 instance_token=MODERATOR_TOKEN)
    store = ProtectedStore(a.services.db)
    for n, (status_id, visibility) in enumerate((("101", "public"), ("102", "local"))):
        register_bytes(store, corpus_photo(n + 1).read_bytes(), owner=ALICE,
                       source=f"status:{status_id}/media:{n}", max_pixels=50_000_000,
                       status_id=status_id, visibility=visibility)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(java_script_enabled=False)
            page = context.new_page()
            page.goto(a.base_url + "/consent")
            assert "Not allowed" in page.locator("#instance-default").inner_text()
            page.click("#sign-in")
            page.get_by_role("button", name="Alice (@alice)").click()
            page.wait_for_url(a.base_url + "/consent")
            assert page.locator("#who").inner_text() == "Alice"
            assert "have not chosen" in page.locator("#current").inner_text()
            assert page.locator("#pictures li").count() == 2
            assert "kept on this server" in page.locator("#pictures li").first.inner_text()
            page.get_by_role("button", name="Stop protecting the picture of post 102").click()
            assert page.locator("#pictures li").count() == 1
            assert "post 101" in page.locator("#pictures li").inner_text()
            assert [p["status_id"] for p in store.protected_find(owner=ALICE)] == ["101"]
            [gone] = [p for p in store.protected_find(owner=ALICE, live=False)
                      if p["status_id"] == "102"]
            assert gone["removed_reason"] == "withdrawn by its owner"
            page.get_by_label("Ask me first").check()
            page.click("#save")
            assert page.locator("#saved").is_visible()
            assert "Ask me first" in page.locator("#current").inner_text()
            page.get_by_label("Allowed", exact=True).check()
            page.focus("#save")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert "Allowed" in page.locator("#current").inner_text()
            assert page.locator("#history li").count() == 2
            cookies = {c["name"]: c["value"] for c in context.cookies()}
            assert next(c for c in context.cookies() if c["name"] == "consentry_consent")[
                "httpOnly"]
            browser.close()
        store = ConsentStore(a.services.db)
        assert store.consent_get(ALICE)["choice"] == "allowed"
        assert [h["choice"] for h in store.consent_history(ALICE)] == ["allowed", "ask"]
        forged = requests.post(a.base_url + "/consent", data={"choice": "not_allowed"},
                               cookies=cookies, timeout=30, allow_redirects=False)
        assert forged.status_code == 403
        [picture] = ProtectedStore(a.services.db).protected_find(owner=ALICE, live=False,
                                                                 status_id="101")
        forged = requests.post(f"{a.base_url}/consent/pictures/{picture['id']}/withdraw",
                               cookies=cookies, timeout=30, allow_redirects=False)
        assert forged.status_code == 403
        assert store.consent_get(ALICE)["choice"] == "allowed"
    finally:
        a.stop()
        mastodon.stop()

"""Stores and the bank matcher on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from plugin.errors import BadRequest, Conflict, NotFound
from plugin.hashing.image_hashes import hash_image
from plugin.matching import BankMatcher
from plugin.services import Services
from plugin.storage.actions import ActionStore, AuditStore
from plugin.storage.banks import BankStore, EntryInput
from plugin.storage.database import Database
from tests.conftest import corpus_photo


@pytest.fixture
def db(any_db_url):
    database = Database(any_db_url)
    database.migrate()
    yield database
    database.dispose()


def hashes_of(img: Image.Image):
    return hash_image(img.tobytes()[:1000], img)


def test_bank_entries_are_tombstoned_and_revived(db):
    banks = BankStore(db)
    banks.bank_create("b1", "spam")
    assert banks.entries_add("b1", [EntryInput("sha256", "AB" * 32, "n")]) == 1
    assert banks.entries_add("b1", [EntryInput("sha256", "ab" * 32)]) == 0  # canonical dup
    banks.entry_remove("b1", "sha256", "ab" * 32, by="mod", reason="false positive")
    assert list(banks.entries_export("b1")) == []
    with pytest.raises(NotFound):
        banks.entry_remove("b1", "sha256", "ab" * 32, by="mod", reason="again")
    assert banks.entries_add("b1", [EntryInput("sha256", "ab" * 32)]) == 1
    ops = [op for _, op, _ in banks.changes_since(0)]
    assert ops == ["bank", "add", "remove", "add"]


def test_bank_validation(db):
    banks = BankStore(db)
    with pytest.raises(BadRequest, match="category"):
        banks.bank_create("x", "weird")
    banks.bank_create("x", "csam", visibility="vetted")
    with pytest.raises(Conflict):
        banks.bank_create("x", "csam")
    with pytest.raises(BadRequest, match="pdq"):
        banks.entries_add("x", [EntryInput("pdq", "xyz")])
    with pytest.raises(BadRequest, match="unknown hash type"):
        banks.entries_add("x", [EntryInput("phash", "00")])


def test_actions_and_audit_are_idempotent(db):
    actions, audit = ActionStore(db), AuditStore(db)
    first, created = actions.action_plan("report:status:1", "report", {"a": 1}, {})
    again, created_again = actions.action_plan("report:status:1", "report", {"a": 2}, {})
    assert created and not created_again and first == again
    assert actions.action_get(first)["params"] == {"a": 1}
    assert audit.audit_append(actor="x", action="report", subject="s", outcome="done", key="k")
    assert not audit.audit_append(actor="x", action="report", subject="s", outcome="done",
                                  key="k")
    assert len(audit.audit_list()) == 1


def test_matcher_follows_the_change_log_without_rebuild(db):
    banks = BankStore(db)
    banks.bank_create("ncii", "ncii")
    matcher = BankMatcher(banks, refresh_interval_s=0)
    photo = Image.open(corpus_photo(14)).convert("RGB")
    other = Image.open(corpus_photo(40)).convert("RGB")
    hashes = hashes_of(photo)
    assert matcher.match(hashes) == []
    banks.entries_add("ncii", [EntryInput("pdq", hashes.pdq)])
    [match] = matcher.match(hashes_of(ImageOps.mirror(photo)))
    assert match["bank"] == "ncii" and match["distance"] <= 31
    assert matcher.match(hashes_of(other)) == []
    banks.entry_remove("ncii", "pdq", hashes.pdq, by="t", reason="t")
    assert matcher.match(hashes) == []
    banks.entries_add("ncii", [EntryInput("sha256", hashes.sha256)])
    assert [m["type"] for m in matcher.match(hashes)] == ["sha256"]


def test_a_warmed_matcher_still_sees_what_was_added_while_its_worker_started(db):
    banks = BankStore(db)
    banks.bank_create("ncii", "ncii")
    matcher = BankMatcher(banks, refresh_interval_s=60)
    hashes = hashes_of(Image.open(corpus_photo(14)).convert("RGB"))
    other = hashes_of(Image.open(corpus_photo(40)).convert("RGB"))
    matcher.warm()  # the worker's start-up load
    banks.entries_add("ncii", [EntryInput("pdq", hashes.pdq)])  # an import a moment later
    assert [m["bank"] for m in matcher.match(hashes)] == ["ncii"]  # the first job sees it
    banks.entries_add("ncii", [EntryInput("sha256", other.sha256)])
    assert matcher.match(other) == []  # from then on the interval applies


def test_low_quality_pictures_do_not_match_by_pdq(db):
    banks = BankStore(db)
    banks.bank_create("b", "other")
    flat = Image.new("RGB", (300, 300), (120, 120, 120))
    hashes = hashes_of(flat)
    assert hashes.pdq_quality < 50
    banks.entries_add("b", [EntryInput("pdq", hashes.pdq)])
    assert BankMatcher(banks, refresh_interval_s=0).match(hashes) == []


def test_disabled_bank_stops_matching_everywhere(db):
    banks = BankStore(db)
    banks.bank_create("b", "spam")
    hashes = hashes_of(Image.open(corpus_photo(2)).convert("RGB"))
    banks.entries_add("b", [EntryInput("sha256", hashes.sha256)])
    matcher = BankMatcher(banks, refresh_interval_s=0)
    assert len(matcher.match(hashes)) == 1
    banks.bank_set_enabled("b", False)
    assert matcher.match(hashes) == []


def test_many_entries_import_quickly_and_match(db):
    banks = BankStore(db)
    banks.bank_create("big", "other")
    rng = np.random.default_rng(7)
    codes = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(3000)]
    assert banks.entries_add("big", [EntryInput("pdq", c) for c in codes]) == 3000
    matcher = BankMatcher(banks)
    assert len(matcher.match_value("pdq", codes[1234])) == 1


def test_services_build_without_connecting(tmp_path):
    from plugin.settings import Settings

    svc = Services.from_settings(Settings(data_dir=tmp_path))
    with pytest.raises(Exception, match="CONSENTRY_REDIS_URL"):
        _ = svc.redis


def test_an_allowlisted_picture_acts_on_nothing(services):
    from plugin.enforcement import plan_actions
    from plugin.federation.trust import apply_trust
    from plugin.mastodon.payloads import StatusRef

    hashes = hashes_of(Image.open(corpus_photo(12)).convert("RGB"))
    services.banks.bank_create("local-ncii", "ncii")
    services.banks.entries_add("local-ncii", [EntryInput("sha256", hashes.sha256)])
    status = StatusRef(status_id="9", url=None, account_id="3", account_acct="eve",
                       visibility="public", via="status")
    scan = {"media_id": "m", "labels": [], "matches": services.matcher.match(hashes)}
    assert [p.kind for p in plan_actions(status, apply_trust([scan], services),
                                         services.policy)] == ["report"]
    services.banks.bank_ensure(services.settings.federation_allowlist_bank, "other")
    services.banks.entries_add(services.settings.federation_allowlist_bank,
                               [EntryInput("sha256", hashes.sha256)])
    services.matcher.refresh(force=True)
    scan["matches"] = services.matcher.match(hashes)
    [judged] = apply_trust([scan], services)
    assert judged["matches"] == [] and judged["allowlisted"] is True
    assert plan_actions(status, [judged], services.policy) == []

"""An action whose first attempt reached Mastodon but died before we recorded it is not
taken again on retry: the retry finds its own report (by the marker in its comment) or the
account action already in force, on a real Mastodon-API server."""

from __future__ import annotations

import pytest

from plugin.enforcement import perform_action, report_marker
from plugin.mastodon.client import InstanceClient
from tests.support.mastodon_server import MODERATOR_TOKEN, start_mastodon


@pytest.fixture
def mastodon():
    server = start_mastodon()
    yield server
    server.stop()


def test_a_retry_after_a_crash_files_no_second_report_or_action(services, mastodon):
    client = InstanceClient(mastodon.base_url, MODERATOR_TOKEN)
    status = mastodon.client("alice").status_post("matched")
    account_id = str(status["account"]["id"])
    key = f"report:status:{status['id']}"
    params = {"account_id": account_id, "status_ids": [str(status["id"])],
              "category": "legal", "comment": "bank ncii, distance 3", "forward": False}
    report_id, _ = services.actions.action_plan(key, "report", params, {})
    suspend_id, _ = services.actions.action_plan(
        f"account:{account_id}:suspend", "suspend",
        {"account_id": account_id, "text": "x", "report_key": key, "report_id": None}, {})

    # The state a worker killed mid-action leaves: attempted, carried out, not recorded.
    services.actions.action_attempt(report_id)
    filed = client.report(account_id, params["status_ids"],
                          f"{report_marker(key)} {params['comment']}", "legal", False)
    services.actions.action_attempt(suspend_id)
    client.account_action(account_id, "suspend", report_id=filed, text="x")

    report = perform_action(report_id, client, services.actions, services.audit)
    suspend = perform_action(suspend_id, client, services.actions, services.audit)
    assert report["state"] == "done" and report["result"] == {"report_id": filed,
                                                              "recovered": True}
    assert suspend["state"] == "done" and suspend["result"]["recovered"] is True
    moderator = mastodon.client(token=MODERATOR_TOKEN)
    every = moderator.admin_reports() + moderator.admin_reports(resolved=True)
    assert [str(r["id"]) for r in every] == [filed]  # one report, resolved by the suspension


def test_a_first_attempt_files_a_report_carrying_its_marker(services, mastodon):
    client = InstanceClient(mastodon.base_url, MODERATOR_TOKEN)
    status = mastodon.client("alice").status_post("matched")
    key = f"report:status:{status['id']}"
    action_id, _ = services.actions.action_plan(key, "report", {
        "account_id": str(status["account"]["id"]), "status_ids": [str(status["id"])],
        "category": "violation", "comment": "evidence", "forward": False}, {})
    done = perform_action(action_id, client, services.actions, services.audit)
    [report] = mastodon.client(token=MODERATOR_TOKEN).admin_reports()
    assert done["result"] == {"report_id": str(report["id"])}
    assert report["comment"].startswith(report_marker(key))


def test_an_automated_restriction_gets_a_statement_of_reasons(services, mastodon):
    from plugin.storage.review_store import ReviewStore

    client = InstanceClient(mastodon.base_url, MODERATOR_TOKEN)
    status = mastodon.client("alice").status_post("matched")
    account_id = str(status["account"]["id"])
    action_id, _ = services.actions.action_plan(
        f"account:{account_id}:silence", "silence",
        {"account_id": account_id, "text": "pdq match in bank t (ncii), distance 4",
         "report_key": None, "report_id": None},
        {"findings": [{"media_id": "1", "match": {"category": "ncii", "bank": "t"}}]})
    perform_action(action_id, client, services.actions, services.audit)
    [row] = list(ReviewStore(services.db).statements_iter())
    statement = row["fields"]
    assert row["restrictive"] is True and row["subject"] == account_id
    assert statement["automated_detection"] == "Yes"
    assert statement["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    assert statement["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
    assert statement["puid"] == f"account:{account_id}:silence"
    assert "distance 4" in statement["decision_facts"]

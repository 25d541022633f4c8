"""mastodon-mock on loopback with the accounts our tests need."""

from __future__ import annotations

from mastodon_mock.config import SeedAccount, SeedConfig
from mastodon_mock.testing import MockServer

MODERATOR_TOKEN = "moderator_token"  # a fixture token of the mock server, not a credential
ALICE_TOKEN = "alice_token"

SEED = SeedConfig(accounts=[
    SeedAccount(username="moderator", display_name="Consentry bot", role="admin",
                access_token=MODERATOR_TOKEN, email="mod@mock.local"),
    SeedAccount(username="alice", display_name="Alice", access_token=ALICE_TOKEN),
    SeedAccount(username="dave", display_name="Dave", domain="remote.example"),
])


def start_mastodon() -> MockServer:
    return MockServer(seed=SEED).start()

"""Settings precedence and validation; policy parsing."""

from __future__ import annotations

import pytest

from plugin.errors import ConfigError
from plugin.policy import DEFAULT_POLICY_TOML, load_policy, parse_policy
from plugin.settings import Settings, ensure_secrets


def test_defaults_with_empty_environment(tmp_path):
    s = Settings.from_env({"CONSENTRY_DATA_DIR": str(tmp_path)})
    assert s.bind == "127.0.0.1:8400"
    assert s.media_allow_private is False
    assert s.sqlalchemy_url == f"sqlite:///{(tmp_path / 'consentry.db').resolve()}"


def test_environment_wins_over_config_file(tmp_path):
    (tmp_path / "consentry.toml").write_text('bind = "127.0.0.1:9000"\nworkers = 3\n')
    s = Settings.from_env({"CONSENTRY_DATA_DIR": str(tmp_path), "CONSENTRY_WORKERS": "5"})
    assert s.bind == "127.0.0.1:9000"
    assert s.workers == 5


@pytest.mark.parametrize("name, value", [
    ("CONSENTRY_BIND", "nonsense"), ("CONSENTRY_WORKERS", "0"),
    ("CONSENTRY_MEDIA_ALLOW_PRIVATE", "maybe"), ("CONSENTRY_INSTANCE_URL", "ftp://x"),
    ("CONSENTRY_MEDIA_MAX_BYTES", "-1"),
])
def test_bad_values_name_the_setting(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"CONSENTRY_DATA_DIR": str(tmp_path), name: value})


def test_secrets_generated_once_and_kept_private(tmp_path):
    s = Settings.from_env({"CONSENTRY_DATA_DIR": str(tmp_path)})
    filled, created = ensure_secrets(s)
    assert set(created) == {"mastodon_webhook_secret", "admin_token"}
    assert (tmp_path / "consentry.toml").stat().st_mode & 0o077 == 0
    again, created_again = ensure_secrets(Settings.from_env({"CONSENTRY_DATA_DIR":
                                                             str(tmp_path)}))
    assert created_again == []
    assert again.admin_token == filled.admin_token
    assert "***" in str(filled.redacted()["admin_token"])


def test_default_policy_only_reports():
    policy = load_policy(None)
    assert policy.for_category("csam").actions == ("report",)
    assert policy.for_category("csam").report_category == "legal"
    assert policy == parse_policy(DEFAULT_POLICY_TOML)


def test_policy_orders_actions_by_severity():
    policy = parse_policy('[category.csam]\nactions = ["suspend", "report"]\n')
    assert policy.for_category("csam").actions == ("report", "suspend")


@pytest.mark.parametrize("text, message", [
    ('[category.csam]\nactions = ["nuke"]', "actions must be"),
    ("[defaults]\nforward = 3", "forward"),
    ("[weird]\n", "unknown section"),
    ('[label."nudity.explicit"]\nmin_score = 2', "min_score"),
    ("not toml [", "not valid TOML"),
])
def test_policy_errors_are_clear(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_policy(text)

"""The policy: which actions follow from a match category or a classifier label.

An admin writes it in TOML (``CONSENTRY_POLICY``; ``docs/policy.md`` documents every key).
Without one, ``DEFAULT_POLICY`` applies. It is deliberately conservative: matches are
*reported* to the instance's moderators; nothing suspends an account or blocks a domain until
an admin says so. The policy decides; ``plugin.enforcement`` turns decisions into idempotent
action rows; workers carry them out.

    [defaults]
    report_category = "violation"   # Mastodon report category: violation | legal | other
    forward = false                  # forward reports on remote accounts to their server

    [category.csam]                  # a bank category
    actions = ["report", "suspend"]
    report_category = "legal"

    [label."nudity.explicit"]        # a classifier taxonomy label
    min_score = 0.9
    actions = ["report", "sensitive"]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin.errors import ConfigError

ACTIONS = ("review", "report", "sensitive", "silence", "suspend", "reject_media")
REPORT_CATEGORIES = ("violation", "legal", "other", "spam")
# "review" opens an item in the moderators' queue (plugin.review) and is planned first.
SEVERITY = {"review": -1, "report": 0, "sensitive": 1, "silence": 2, "reject_media": 3,
            "suspend": 4}


@dataclass(frozen=True)
class Rule:
    actions: tuple[str, ...]
    report_category: str
    forward: bool
    min_score: float = 0.0


@dataclass(frozen=True)
class Policy:
    defaults: Rule
    categories: dict[str, Rule] = field(default_factory=dict)
    labels: dict[str, Rule] = field(default_factory=dict)

    def for_category(self, category: str) -> Rule:
        return self.categories.get(category, self.defaults)

    def for_label(self, label: str) -> Rule | None:
        return self.labels.get(label)


DEFAULT_POLICY_TOML = """
[defaults]
actions = ["report"]
report_category = "violation"
forward = false

[category.csam]
actions = ["report"]
report_category = "legal"

[category.ncii]
actions = ["report"]
report_category = "legal"

[category.terror]
actions = ["report"]
report_category = "legal"

[category.spam]
actions = ["report"]
report_category = "spam"
"""


def parse_policy(text: str, source: str = "policy") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    unknown = set(data) - {"defaults", "category", "label"}
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {', '.join(sorted(unknown))}")
    defaults = _rule(data.get("defaults", {}), None, f"{source} [defaults]")
    categories = {name: _rule(body, defaults, f"{source} [category.{name}]")
                  for name, body in data.get("category", {}).items()}
    labels = {name: _rule(body, defaults, f"{source} [label.\"{name}\"]")
              for name, body in data.get("label", {}).items()}
    return Policy(defaults=defaults, categories=categories, labels=labels)


def load_policy(path: Path | None) -> Policy:
    if path is None:
        return parse_policy(DEFAULT_POLICY_TOML, "default policy")
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read policy file {path}: {exc}") from None
    return parse_policy(text, str(path))


def _rule(body: Any, defaults: Rule | None, where: str) -> Rule:
    if not isinstance(body, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(body) - {"actions", "report_category", "forward", "min_score"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    actions = body.get("actions", list(defaults.actions) if defaults else ["report"])
    if not isinstance(actions, list) or any(a not in ACTIONS for a in actions):
        raise ConfigError(f"{where}: actions must be a list of {', '.join(ACTIONS)}; "
                          f"got {actions!r}")
    category = body.get("report_category", defaults.report_category if defaults else "violation")
    if category not in REPORT_CATEGORIES:
        raise ConfigError(f"{where}: report_category must be one of "
                          f"{', '.join(REPORT_CATEGORIES)}")
    forward = body.get("forward", defaults.forward if defaults else False)
    if not isinstance(forward, bool):
        raise ConfigError(f"{where}: forward must be true or false")
    min_score = body.get("min_score", 0.0)
    if not isinstance(min_score, int | float) or not 0 <= min_score <= 1:
        raise ConfigError(f"{where}: min_score must be a number in 0..1")
    ordered = tuple(sorted(dict.fromkeys(actions), key=SEVERITY.__getitem__))
    return Rule(actions=ordered, report_category=category, forward=forward,
                min_score=float(min_score))

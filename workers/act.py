"""Action jobs: carry out planned actions on the instance, in order, each exactly once."""

from __future__ import annotations

from plugin.enforcement import perform_action
from workers import context


def execute_actions(action_ids: list[int]) -> list[dict[str, object]]:
    """Perform each action in order (a report before the account action that cites it).

    Actions already done are skipped, so a retry after a transient failure resumes where the
    last attempt stopped.
    """
    svc = context.services()
    results = []
    for action_id in action_ids:
        action = perform_action(action_id, context.instance_client(), svc.actions, svc.audit)
        svc.metrics.count(f"job:action:{action['state']}")
        results.append({"id": action_id, "state": action["state"]})
    return results

"""Per-process worker state: services, the bank matcher and the classifiers, built once.

RQ's default worker forks a child per job, which would rebuild the matcher and reload every
ONNX session for each job. Consentry's workers run jobs in the worker process itself
(``SimpleWorker``), so this state lives as long as the process; ``consentry up`` restarts a
worker that dies.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from plugin.mastodon.client import InstanceClient
from plugin.scanning import Classify, ScanContext
from plugin.services import Services
from plugin.settings import Settings


@cache
def services() -> Services:
    return Services.from_settings(Settings.from_env())


@cache
def scan_context() -> ScanContext:
    svc = services()
    return ScanContext(services=svc, matcher=svc.matcher,
                       classifiers=load_classify_stages(svc.settings),
                       protected=derivative_stage(svc))


def derivative_stage(svc: Services) -> Any:
    """The consent/derivative stage (``plugin.consent.stage``), or None when turned off."""
    if not svc.settings.derivatives:
        return None
    from plugin.consent.stage import DerivativeStage

    return DerivativeStage(svc)


@cache
def instance_client() -> InstanceClient:
    settings = services().settings
    return InstanceClient(settings.instance_url, settings.instance_token)


def load_classify_stages(settings: Settings) -> tuple[Classify, ...]:
    """One stage per model manifest in the models directory (none when turned off).

    Sessions live in ``workers.classifiers``' process-wide cache, so building the stages again
    (a test, a settings reload) reuses the loaded models.
    """
    if not settings.classifiers:
        return ()
    from workers.classifiers import load_classifiers

    def stage(classifier: Any) -> Classify:
        return lambda image: classifier.classify([image])[0].to_dict()

    return tuple(stage(c) for c in load_classifiers(settings.models_path))


def reset() -> None:
    """Forget the process state (tests switch settings between cases)."""
    services.cache_clear()
    scan_context.cache_clear()
    instance_client.cache_clear()

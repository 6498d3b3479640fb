"""The notification parts the service holds: the delivery worker, started with the app."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from api.notifications.secrets import SecretResolver
from api.notifications.worker import DeliveryPolicy, DeliveryWorker, Links

if TYPE_CHECKING:
    from api.deps import Service

__all__ = ["links_of", "secrets_of", "start_notifications", "worker_of"]


def secrets_of(service: Service) -> SecretResolver:
    return SecretResolver(service.settings.secrets_dir)


def links_of(service: Service) -> Links:
    return Links.from_settings(service.settings)


def worker_of(service: Service) -> DeliveryWorker | None:
    for item in service.background:
        if isinstance(item, DeliveryWorker):
            return item
    return None


def start_notifications(service: Service) -> Callable[[], None]:
    """Start the delivery worker (unless ``notify_worker`` is off); returns its stopper."""
    settings = service.settings
    worker = DeliveryWorker(
        service.sessions,
        secrets=secrets_of(service),
        links=links_of(service),
        policy=DeliveryPolicy.from_settings(settings),
        poll_interval=settings.notify_poll_interval,
    )
    service.background.append(worker)
    if not settings.notify_worker:
        return lambda: None
    worker.start()
    return worker.stop

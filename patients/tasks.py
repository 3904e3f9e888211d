"""Celery tasks of the patients app: interfaces like views — call one service, nothing more."""

from celery import shared_task
from django.conf import settings

from patients import history_cache


@shared_task(name="patients.history_cache_prune", ignore_result=True)
def history_cache_prune_task() -> int:
    """Beat, daily: forget history cache entries older than HISTORY_CACHE_DAYS."""
    return history_cache.prune(older_than_days=settings.HISTORY_CACHE_DAYS)

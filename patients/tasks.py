"""Celery tasks of the patients app: interfaces like views — call one service, nothing more."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from patients import history_cache, selectors


@shared_task(name="patients.history_cache_prune", ignore_result=True)
def history_cache_prune_task() -> int:
    """Beat, daily: forget history cache entries older than HISTORY_CACHE_DAYS."""
    return history_cache.prune(older_than_days=settings.HISTORY_CACHE_DAYS)


@shared_task(name="patients.history_cache_warm_today", ignore_result=True, expires=300)
def history_cache_warm_today_task() -> int:
    """Beat: build the histories of today's patients where a change made them stale, within
    half the task's soft time limit (the next run goes on where this one stopped)."""
    return history_cache.warm(
        selectors.patients_with_sessions_around(day=timezone.localdate()),
        page_size=settings.HISTORY_TIMELINE_PAGE_SIZE,
        time_budget_seconds=settings.CELERY_TASK_SOFT_TIME_LIMIT / 2)

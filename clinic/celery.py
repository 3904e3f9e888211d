"""The Celery app. Workers and beat read their configuration from Django settings (CELERY_*)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
@signals.beat_init.connect
def clinic_policy_required(**kwargs) -> None:
    """Workers and beat run no system checks: a typo in the clinic policy stops them at start,
    not at the first reminder that reads it. SystemExit, because Celery logs and carries on
    past any Exception a signal handler raises."""
    from django.core.exceptions import ImproperlyConfigured

    from clinic.checks import clinic_policy_required as required

    try:
        required()
    except ImproperlyConfigured as error:
        raise SystemExit(str(error)) from error


@signals.task_prerun.connect
@signals.task_postrun.connect
def database_connections_as_between_requests(sender=None, **kwargs) -> None:
    """A worker keeps its database connections by the rule the web server follows between two
    requests: closed once older than CONN_MAX_AGE or after an error left them unusable, else
    kept (and health-checked before reuse, CONN_HEALTH_CHECKS). Celery's own default closes
    every connection before and after every task; with settings.CELERY_DB_REUSE_MAX it only
    recycles them now and then, and this does the rest. A task run eagerly, inside a request
    or a test's transaction, is left alone, as Celery leaves it."""
    from django.db import close_old_connections, connections

    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    if any(connection.in_atomic_block for connection in connections.all(initialized_only=True)):
        return
    close_old_connections()

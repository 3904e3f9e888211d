"""Celery tasks: interfaces like views — take ids, call one service, nothing more.

The schedule lives in the database (Reminder.due_at), never in a Celery eta/countdown: the beat
task claims what is due every minute. The only countdowns used are a send retry's short backoff
and a batch deferred while the SMTP server is unwell, both bounded by
CLINIC_REMINDERS["retry_backoff_max_seconds"], far below the lease and the broker's visibility
timeout.
"""

from celery import shared_task
from django.conf import settings

from sessions import dispatch


@shared_task(name="sessions.reminder_dispatch_due", ignore_result=True, expires=55)
def reminder_dispatch_due_task() -> int:
    """Beat, every minute: claim due reminders and enqueue their send tasks."""
    return len(dispatch.reminder_dispatch_due().claimed)


@shared_task(bind=True, name="sessions.reminder_send", ignore_result=True, acks_late=True,
             reject_on_worker_lost=True, max_retries=None)
def reminder_send_task(self, reminder_id: int) -> str:
    """Send one reminder. The service decides; a transient SMTP failure comes back as a retry
    (the attempt budget lives on the row, so max_retries is the service's business)."""
    outcome = dispatch.reminder_send(reminder_id=reminder_id)
    if outcome.status == "retry":
        raise self.retry(countdown=outcome.retry_in_seconds)
    return outcome.status


def batch_time_budget(soft_time_limit: float | None) -> float | None:
    """Seconds a batch may start new sends: the soft time limit less room for the send in
    flight (connect, then each SMTP command may take EMAIL_TIMEOUT), at least a third of it."""
    if not soft_time_limit:
        return None
    in_flight = 3 * (getattr(settings, "EMAIL_TIMEOUT", None) or 10)
    return max(soft_time_limit - in_flight, soft_time_limit / 3)


@shared_task(bind=True, name="sessions.reminder_send_batch", ignore_result=True,
             acks_late=True, reject_on_worker_lost=True)
def reminder_send_batch_task(self, reminder_ids: list[int]) -> dict:
    """Send a chunk of claimed reminders, each by the single-row rules; what it does not
    finish (a row's own retry, the rest of a batch while the server is unwell or once the time
    budget is used up) the service hands back as new tasks. Redelivered after a worker died,
    it skips the rows already sent."""
    soft_limit = self.soft_time_limit or self.app.conf.task_soft_time_limit
    outcome = dispatch.reminder_send_batch(reminder_ids=reminder_ids,
                                           time_budget_seconds=batch_time_budget(soft_limit))
    return {"sent": len(outcome.sent), "skipped": len(outcome.skipped),
            "failed": len(outcome.failed), "retried": len(outcome.retried),
            "deferred": len(outcome.deferred)}

"""Celery tasks: interfaces like views — take an id, call one service, nothing more.

The schedule lives in the database (Reminder.due_at), never in a Celery eta/countdown: the beat
task claims what is due every minute. The only countdown used is a send retry's short backoff,
bounded by CLINIC_REMINDERS["retry_backoff_max_seconds"], far below the broker's visibility
timeout.
"""

from celery import shared_task

from sessions import dispatch


@shared_task(name="sessions.reminder_dispatch_due", ignore_result=True, expires=55)
def reminder_dispatch_due_task() -> int:
    """Beat, every minute: claim due reminders and enqueue one send task per row."""
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

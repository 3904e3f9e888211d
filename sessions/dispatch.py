"""Claiming and sending reminders: the two halves of the outbox's consumer side.

`reminder_dispatch_due` claims due rows in batches and enqueues one send task per claimed row
after its transaction commits. A claim is a conditional UPDATE (status still pending, or a
`sending` row whose lease expired), checked by its row count, so two dispatchers racing can
never both claim a row; on PostgreSQL `select_for_update(skip_locked=True)` picks the rows
first so racing dispatchers take disjoint batches instead of contending.

`reminder_send` runs in the worker: it re-checks the row in a short transaction, sends outside
any transaction, and records the outcome. The database, not the broker, is the source of
truth: a lost message, a dead worker or a broker outage leaves a row that a later dispatch
picks up again.
"""

import logging
import smtplib
import socket
from dataclasses import dataclass
from datetime import timedelta
from random import uniform

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from sessions.mail_connection import email_connection_discard, shared_email_connection
from sessions.models import Reminder, TreatmentSession
from sessions.reminder_emails import UndeliverableError, message_id, reminder_email
from sessions.reminders import PATIENT_KINDS, ReminderSettings, patient_can_receive

logger = logging.getLogger(__name__)
Status = Reminder.Status


@dataclass
class DispatchResult:
    claimed: list[int]
    enqueued: int = 0
    released: int = 0  # claimed but not enqueued (broker down): back to pending
    gave_up: int = 0  # reclaimed too often: marked failed


def _claimable(now, config: ReminderSettings) -> Q:
    lease_expired = now - timedelta(seconds=config.lease_seconds)
    stale_attempt = Q(attempt_started_at__isnull=True) | Q(attempt_started_at__lt=lease_expired)
    return (Q(status=Status.PENDING, due_at__lte=now)
            | (Q(status=Status.SENDING, claimed_at__lt=lease_expired) & stale_attempt))


def _give_up_on_exhausted(now, config: ReminderSettings) -> int:
    """A row reclaimed after `max_attempts` tries (workers keep dying on it) is failed."""
    return Reminder.objects.filter(_claimable(now, config), status=Status.SENDING,
                                   attempts__gte=config.max_attempts).update(
        status=Status.FAILED, last_error=(f"Gave up after {config.max_attempts} attempts: the "
                                          "worker was lost or timed out each time."),
        updated_at=now)


def _claim_batch(*, now, config: ReminderSettings, only_ids=None) -> list[int]:
    """One transaction: pick up to batch_size claimable ids and claim each conditionally."""
    with transaction.atomic():
        candidates = Reminder.objects.filter(_claimable(now, config))
        if only_ids is not None:
            candidates = candidates.filter(pk__in=only_ids)
        candidates = candidates.order_by("due_at", "id")
        if connection.vendor == "postgresql":
            # Fast path: rows another dispatcher holds are skipped, not waited for.
            ids = list(candidates.select_for_update(skip_locked=True)
                       .values_list("pk", flat=True)[: config.batch_size])
            if not ids:
                return []
            updated = Reminder.objects.filter(_claimable(now, config), pk__in=ids).update(
                status=Status.SENDING, claimed_at=now, attempt_started_at=None, updated_at=now)
            if updated != len(ids):  # cannot happen under the locks; keep only what is ours
                ids = list(Reminder.objects.filter(pk__in=ids, status=Status.SENDING,
                                                   claimed_at=now).values_list("pk", flat=True))
            return ids
        claimed = []
        for pk in candidates.values_list("pk", flat=True)[: config.batch_size]:
            # The conditional UPDATE is the claim: 1 row means ours, 0 means someone else's.
            if Reminder.objects.filter(_claimable(now, config), pk=pk).update(
                    status=Status.SENDING, claimed_at=now, attempt_started_at=None,
                    updated_at=now) == 1:
                claimed.append(pk)
        return claimed


def _enqueue(ids: list[int]) -> tuple[int, int]:
    """Publish one send task per id; ids whose publish fails go straight back to pending."""
    from sessions.tasks import reminder_send_task

    enqueued, failed = 0, []
    # One producer (one broker connection from the pool) for the whole batch, not one per task.
    with reminder_send_task.app.producer_or_acquire() as producer:
        for position, pk in enumerate(ids):
            try:
                reminder_send_task.apply_async(args=[pk], retry=False, producer=producer)
                enqueued += 1
            except (OperationalError, OSError) as error:  # broker down: release the rest
                logger.warning("Broker unavailable, releasing %d claimed reminders: %s",
                               len(ids) - position, error)
                failed = ids[position:]
                break
    released = 0
    if failed:
        released = Reminder.objects.filter(pk__in=failed, status=Status.SENDING,
                                           attempt_started_at__isnull=True).update(
            status=Status.PENDING, claimed_at=None, updated_at=timezone.now())
    return enqueued, released


def reminder_dispatch_due(*, only_ids=None, max_batches: int | None = None) -> DispatchResult:
    """Claim every due reminder (batch by batch) and enqueue its send task after commit."""
    config = ReminderSettings.from_settings()
    now = timezone.now()
    result = DispatchResult(claimed=[])
    result.gave_up = _give_up_on_exhausted(now, config)
    batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        ids = _claim_batch(now=now, config=config, only_ids=only_ids)
        if not ids:
            break
        result.claimed += ids
        if connection.in_atomic_block:
            # Called inside a larger transaction (an admin action): publish only once the
            # claim is committed, or the worker would find the row still pending.
            transaction.on_commit(lambda ids=ids: _enqueue(ids))
            continue
        enqueued, released = _enqueue(ids)
        result.enqueued += enqueued
        result.released += released
        if released:
            break  # the broker is down; the next beat tick tries again
    return result


# --- sending ------------------------------------------------------------------------------

class TransientSendError(Exception):
    """Worth retrying: a 4xx answer, a timeout, a dropped connection."""


@dataclass
class SendOutcome:
    status: str  # "sent", "skipped", "failed", "retry"
    detail: str = ""
    retry_in_seconds: float = 0.0


def retry_delay(attempt: int, config: ReminderSettings) -> float:
    """Exponential backoff with full jitter, capped (well below the lease)."""
    ceiling = min(config.retry_backoff_max_seconds,
                  config.retry_backoff_seconds * (2 ** max(attempt - 1, 0)))
    return uniform(ceiling / 2, ceiling)


def _text(message) -> str:
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)


def classify_smtp_error(error: Exception) -> tuple[bool, str]:
    """(permanent?, message). 5xx is permanent; 4xx, timeouts and disconnects are transient."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        detail = "; ".join(f"{code} {_text(msg)}" for code, msg in error.recipients.values())
        return all(code >= 500 for code in codes), f"Recipient refused: {detail}"
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500, f"SMTP {error.smtp_code}: {_text(error.smtp_error)}"
    if isinstance(error, TimeoutError | socket.timeout):
        return False, f"SMTP timed out: {error or 'no answer'}"
    return False, f"{type(error).__name__}: {error}"


def _still_wanted(reminder: Reminder) -> str:
    """Why the reminder should no longer go out, or "" if it should."""
    if reminder.kind in PATIENT_KINDS and not patient_can_receive(reminder.patient):
        return "The patient opted out, was archived or has no email address."
    if reminder.kind == Reminder.Kind.UPCOMING_SESSION:
        session = reminder.session
        if session.status != TreatmentSession.Status.SCHEDULED:
            return f"The session is {session.get_status_display().lower()}."
        if session.scheduled_at <= timezone.now():
            return "The appointment time has passed."
    return ""


def _begin_attempt(reminder_id: int, config: ReminderSettings) -> Reminder | SendOutcome:
    """Short transaction: lock the row, check it is ours to send, mark the attempt started."""
    now = timezone.now()
    lease_expired = now - timedelta(seconds=config.lease_seconds)
    with transaction.atomic():
        reminder = (Reminder.objects.select_for_update(of=("self",))
                    .select_related("patient", "session", "recipient_user", "follow_up",
                                    "observation").filter(pk=reminder_id).first())
        if reminder is None:
            return SendOutcome("skipped", "No such reminder.")
        if reminder.status != Status.SENDING:
            return SendOutcome("skipped", f"Reminder is {reminder.status}.")
        if reminder.attempt_started_at and reminder.attempt_started_at >= lease_expired:
            return SendOutcome("skipped", "Another worker is sending it right now.")
        reason = _still_wanted(reminder)
        if reason:
            reminder.status = Status.CANCELLED
            reminder.last_error = reason
            reminder.save(update_fields=["status", "last_error", "updated_at"])
            return SendOutcome("skipped", reason)
        reminder.attempts += 1
        reminder.attempt_started_at = now
        reminder.claimed_at = now  # renews the lease for this attempt
        reminder.save(update_fields=["attempts", "attempt_started_at", "claimed_at",
                                     "updated_at"])
    return reminder


def _finish(reminder: Reminder, **changes) -> None:
    Reminder.objects.filter(pk=reminder.pk).exclude(status=Status.SENT).update(
        updated_at=timezone.now(), **changes)


def reminder_send(*, reminder_id: int) -> SendOutcome:
    """Send one claimed reminder. Never raises for an SMTP problem: the outcome says what the
    task should do (nothing, or retry after `retry_in_seconds`)."""
    config = ReminderSettings.from_settings()
    begun = _begin_attempt(reminder_id, config)
    if isinstance(begun, SendOutcome):
        return begun
    reminder = begun
    try:
        reminder_email(reminder, connection=shared_email_connection()).send(fail_silently=False)
    except UndeliverableError as error:
        _finish(reminder, status=Status.FAILED, last_error=str(error), attempt_started_at=None)
        return SendOutcome("failed", str(error))
    except (smtplib.SMTPException, OSError) as error:
        email_connection_discard()  # its state after a failure is unknown: start afresh
        permanent, detail = classify_smtp_error(error)
        logger.warning("Reminder %s attempt %s: %s", reminder.pk, reminder.attempts, detail)
        if permanent or reminder.attempts >= config.max_attempts:
            if not permanent:
                detail = f"Gave up after {reminder.attempts} attempts. Last error: {detail}"
            _finish(reminder, status=Status.FAILED, last_error=detail, attempt_started_at=None)
            return SendOutcome("failed", detail)
        # Still ours: the lease is renewed so no dispatcher reclaims it during the backoff.
        _finish(reminder, last_error=detail, attempt_started_at=None, claimed_at=timezone.now())
        return SendOutcome("retry", detail, retry_delay(reminder.attempts, config))
    _finish(reminder, status=Status.SENT, sent_at=timezone.now(), attempt_started_at=None,
            message_id=message_id(reminder))
    return SendOutcome("sent")

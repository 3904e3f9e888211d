"""Claiming and sending reminders: the two halves of the outbox's consumer side.

`reminder_dispatch_due` claims due rows in batches and, after the claim commits, publishes one
send task per chunk of `send_batch_size` claimed ids. A claim is a conditional UPDATE (status
still pending, or a `sending` row whose lease expired), checked by its row count, so two
dispatchers racing can never both claim a row; on PostgreSQL
`select_for_update(skip_locked=True)` picks the rows first so racing dispatchers take disjoint
batches instead of contending.

`reminder_send_batch` runs in the worker and handles its ids one by one with the per-row rules
of `reminder_send` (the single-row service that a row's own retry uses): lock the row in a
short transaction and check it is still ours to send, send outside any transaction, mark it
sent as soon as the server accepted it. A batch changes how many broker messages, task starts
and database connections a reminder costs, not what happens to a row. The database, not the
broker, is the source of truth: a lost message, a dead worker or a broker outage leaves a row
that a later dispatch picks up again.
"""

import logging
import smtplib
import socket
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache, partial
from random import uniform

from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from patients.models import Patient
from sessions.mail_connection import email_connection_discard, shared_email_connection
from sessions.models import Reminder, TreatmentSession
from sessions.reminder_emails import UndeliverableError, message_id, reminder_email
from sessions.reminders import PATIENT_KINDS, ReminderSettings, patient_can_receive

logger = logging.getLogger(__name__)
Status = Reminder.Status


@dataclass
class DispatchResult:
    claimed: list[int]
    enqueued: int = 0  # reminders handed to the broker
    tasks: int = 0  # send tasks published for them (chunks of send_batch_size)
    released: int = 0  # claimed but not enqueued (broker down): back to pending
    gave_up: int = 0  # reclaimed too often: marked failed


def _lease_expired(now, config: ReminderSettings):
    """Claims and attempts older than this have lost their lease."""
    return now - timedelta(seconds=config.lease_seconds)


def _attempt_running(reminder: Reminder, lease_expired) -> bool:
    """Another worker started sending it within the lease."""
    started = reminder.attempt_started_at
    return started is not None and started >= lease_expired


def _claimable(now, config: ReminderSettings) -> Q:
    lease_expired = _lease_expired(now, config)
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


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[start:start + size] for start in range(0, len(ids), size)]


def _release(ids: list[int]) -> int:
    """Rows we hold but could not hand to the broker go back to pending for the next tick
    (only those not in an attempt: an attempt in flight belongs to its worker)."""
    if not ids:
        return 0
    return Reminder.objects.filter(pk__in=ids, status=Status.SENDING,
                                   attempt_started_at__isnull=True).update(
        status=Status.PENDING, claimed_at=None, updated_at=timezone.now())


def _enqueue(ids: list[int]) -> tuple[int, int, int]:
    """Publish one batch send task per chunk of ids; ids whose publish fails go straight back
    to pending. Returns (reminders enqueued, reminders released, tasks published)."""
    from sessions.tasks import reminder_send_batch_task

    config = ReminderSettings.from_settings()
    enqueued, tasks, failed = 0, 0, []
    chunks = _chunks(ids, config.send_batch_size)
    # One producer (one broker connection from the pool) for the whole batch, not one per task.
    with reminder_send_batch_task.app.producer_or_acquire() as producer:
        for position, chunk in enumerate(chunks):
            try:
                reminder_send_batch_task.apply_async(args=[chunk], retry=False,
                                                     producer=producer)
                enqueued += len(chunk)
                tasks += 1
            except (OperationalError, OSError) as error:  # broker down: release the rest
                failed = [pk for rest in chunks[position:] for pk in rest]
                logger.warning("Broker unavailable, releasing %d claimed reminders: %s",
                               len(failed), error)
                break
    return enqueued, _release(failed), tasks


def reminder_dispatch_due(*, only_ids=None, max_batches: int | None = None) -> DispatchResult:
    """Claim every due reminder (batch by batch) and enqueue its send tasks after commit."""
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
        enqueued, released, tasks = _enqueue(ids)
        result.enqueued += enqueued
        result.tasks += tasks
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
    server_unwell: bool = False  # a retry because of the server, not of this one message


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


def smtp_server_unwell(error: Exception) -> bool:
    """True when the server itself is failing (no answer in time, connection refused or
    dropped, 421 "service not available"): the next message would fare no better. A 4xx to one
    recipient or one message is that message's own problem."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return any(code == 421 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code == 421
    return isinstance(error, OSError)  # timeouts, refused or reset connections, disconnects


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
    """Short transaction: lock the row, check it is ours to send, mark the attempt started.

    Only the reminder row is locked, read with the two rows the check needs (patient and
    session); what only the email needs (a follow-up's date, a clinician alert's recipient and
    observation) is read when the email is built. A six-table join here cost PostgreSQL ~2 ms
    of planning per reminder, more than sending the email."""
    now = timezone.now()
    lease_expired = _lease_expired(now, config)
    with transaction.atomic():
        try:
            reminder = (Reminder.objects.select_for_update(of=("self",))
                        .select_related("patient", "session").get(pk=reminder_id))
        except Reminder.DoesNotExist:
            return SendOutcome("skipped", "No such reminder.")
        if reminder.status != Status.SENDING:
            return SendOutcome("skipped", f"Reminder is {reminder.status}.")
        if _attempt_running(reminder, lease_expired):
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


# Everything a reminder email is built from, read in one query for a whole batch.
EMAIL_RELATIONS = ("patient", "session", "follow_up", "recipient_user", "observation")


def reminders_for_email(reminder_ids) -> dict[int, Reminder]:
    return Reminder.objects.select_related(*EMAIL_RELATIONS).in_bulk(reminder_ids)


def _quoted_table(meta) -> str:
    return connection.ops.quote_name(meta.db_table)


def _quoted_column(meta, name: str) -> str:
    return connection.ops.quote_name(meta.get_field(name).column)


@cache
def _unchanged_attempt_sql(*, with_session: bool) -> str:
    """The conditional UPDATE of `_begin_loaded_attempt`; names come from the models."""
    reminder, patient = Reminder._meta, Patient._meta
    session = TreatmentSession._meta
    column = _quoted_column
    table_r, table_p, table_s = (_quoted_table(meta) for meta in (reminder, patient, session))
    r = partial(column, reminder)
    # The status is compared as an expression no index holds ("|| ''"), so the row is found by
    # its primary key alone. Statistics gathered when nothing was being sent make
    # "status = 'sending'" look as selective as the key, and PostgreSQL then walked every
    # sending row of a status index for each reminder (24.6 s of its CPU for a 10,000-row
    # burst in make bench, 9.7 s since; tests/sessions/test_reminder_plans.py).
    sql = (
        f"UPDATE {table_r} SET {r('attempts')} = {r('attempts')} + 1, "
        f"{r('attempt_started_at')} = %s, {r('claimed_at')} = %s, {r('updated_at')} = %s "
        f"WHERE {r('id')} = %s AND ({r('status')} || '') = %s AND {r('updated_at')} = %s "
        f"AND ({r('attempt_started_at')} IS NULL OR {r('attempt_started_at')} < %s) "
        f"AND EXISTS (SELECT 1 FROM {table_p} WHERE {table_p}.{column(patient, 'id')} = "
        f"{table_r}.{r('patient')} AND {table_p}.{column(patient, 'version')} = %s)")
    if with_session:
        sql += (f" AND EXISTS (SELECT 1 FROM {table_s} WHERE {table_s}.{column(session, 'id')}"
                f" = {table_r}.{r('session')} AND {table_s}.{column(session, 'version')} = %s)")
    return sql


def _begin_loaded_attempt(reminder: Reminder | None, config: ReminderSettings, *,
                          marking: Reminder | None = None) -> bool:
    """The common case of `_begin_attempt` in one statement, for a row loaded by its batch.

    If the loaded row is ours to send and wanted by `_still_wanted`, one conditional UPDATE
    marks the attempt started only if the row is still ours (sending, no attempt running) and
    neither it nor its patient or session has changed since it was loaded (the row's
    updated_at, the patient's and session's version, which every save bumps): then the loaded
    copy is the current state, and the decision made on it stands. The UPDATE locks the row
    while it checks, as `_begin_attempt`'s transaction does. Anything else — a changed row, a
    reason not to send — returns False and goes through `_begin_attempt`, which decides and
    says why. This costs one statement instead of a transaction of three built by the ORM:
    ~0.13 ms of worker CPU instead of ~0.9 ms per reminder, measured.

    `marking` (the batch's previous row, whose email the server has just accepted) is marked
    sent first in every case: on PostgreSQL in the same statement (a data-modifying WITH), so
    one round trip and one commit, one wait for the disk, serve both rows. Nothing is sent in
    between, so a crash leaves the rows as two statements would."""
    if reminder is None or reminder.status != Status.SENDING:
        return _marked_alone(marking, False)
    now = timezone.now()
    lease_expired = _lease_expired(now, config)
    if _attempt_running(reminder, lease_expired) or _still_wanted(reminder):
        return _marked_alone(marking, False)
    adapt = connection.ops.adapt_datetimefield_value
    params = [adapt(now), adapt(now), adapt(now), reminder.pk, Status.SENDING,
              adapt(reminder.updated_at), adapt(lease_expired), reminder.patient.version]
    if reminder.session_id is not None:
        params.append(reminder.session.version)
    sql = _unchanged_attempt_sql(with_session=reminder.session_id is not None)
    # (Never one statement for one row twice: PostgreSQL would apply only one of the two.)
    if (marking is not None and connection.vendor == "postgresql"
            and marking.pk != reminder.pk):
        sql = f"WITH sent AS ({_mark_sent_sql()}) {sql}"
        params = [*_mark_sent_params(marking), *params]
    else:
        _marked_alone(marking, None)
        marking = None
    with connection.cursor() as cursor:
        try:
            cursor.execute(sql, params)
        except DatabaseError:
            _marked_alone(marking, None)  # its email went out: try to say so on its own
            raise
        if cursor.rowcount != 1:
            return False
    reminder.attempts += 1
    reminder.attempt_started_at = reminder.claimed_at = reminder.updated_at = now
    return True


def _finish(reminder: Reminder, **changes) -> None:
    Reminder.objects.filter(pk=reminder.pk).exclude(status=Status.SENT).update(
        updated_at=timezone.now(), **changes)


@cache
def _mark_sent_sql() -> str:
    column = partial(_quoted_column, Reminder._meta)
    return (f"UPDATE {_quoted_table(Reminder._meta)} SET {column('status')} = %s, "
            f"{column('sent_at')} = %s, {column('attempt_started_at')} = NULL, "
            f"{column('message_id')} = %s, {column('updated_at')} = %s "
            f"WHERE {column('id')} = %s AND {column('status')} <> %s")


def _mark_sent_params(reminder: Reminder) -> list:
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    return [Status.SENT, now, message_id(reminder), now, reminder.pk, Status.SENT]


def _mark_sent(reminder: Reminder) -> None:
    """`_finish` for an accepted email, the one write every reminder makes after its send:
    one fixed statement instead of the ORM building the same UPDATE each time (~0.1 ms
    of worker CPU instead of ~0.3 ms)."""
    with connection.cursor() as cursor:
        cursor.execute(_mark_sent_sql(), _mark_sent_params(reminder))


def _marked_alone(reminder: Reminder | None, result):
    """Mark `reminder` sent on its own (if any) and hand back `result`."""
    if reminder is not None:
        _mark_sent(reminder)
    return result


def _attempt(reminder: Reminder, config: ReminderSettings, *,
             mark_sent: bool = True) -> SendOutcome:
    """Send a begun attempt (outside any transaction) and record its outcome on the row; an
    accepted email is left for the caller to mark when `mark_sent` is False."""
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
        return SendOutcome("retry", detail, retry_delay(reminder.attempts, config),
                           server_unwell=smtp_server_unwell(error))
    if mark_sent:
        _mark_sent(reminder)
    return SendOutcome("sent")


def reminder_send(*, reminder_id: int) -> SendOutcome:
    """Send one claimed reminder. Never raises for an SMTP problem: the outcome says what the
    task should do (nothing, or retry after `retry_in_seconds`)."""
    config = ReminderSettings.from_settings()
    begun = _begin_attempt(reminder_id, config)
    if isinstance(begun, SendOutcome):
        return begun
    return _attempt(begun, config)


@dataclass
class BatchOutcome:
    sent: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    retried: dict[int, float] = field(default_factory=dict)  # id -> seconds to its own retry
    deferred: list[int] = field(default_factory=list)  # not tried here: handed back
    deferred_in_seconds: float = 0.0
    released: list[int] = field(default_factory=list)  # broker down: back to pending


def reminder_send_batch(*, reminder_ids: list[int],
                        time_budget_seconds: float | None = None) -> BatchOutcome:
    """Send the reminders of one batch task, one after the other, each by the rules of
    `reminder_send`: a row cancelled, opted out or already sent (a redelivered batch) is
    skipped; each row is marked sent as soon as the server accepted its email, so a worker
    killed mid-batch can send at most its one email in flight again.

    A row refused for a reason of its own (a 4xx to its recipient or message) is retried on its
    own after its backoff and the batch goes on. When the server itself is unwell (timeout,
    connection refused or dropped, 421), the rest of the batch is not tried now — each would
    wait out its own timeout — but handed back as one task after the failed row's backoff.
    Once `time_budget_seconds` is used up, the rest is handed back at once, so the task ends
    before its soft time limit."""
    config = ReminderSettings.from_settings()
    deadline = None if time_budget_seconds is None else time.monotonic() + time_budget_seconds
    outcome = BatchOutcome()
    loaded = reminders_for_email(reminder_ids)
    unmarked: Reminder | None = None  # its email accepted: marked sent with the next begin
    for position, reminder_id in enumerate(reminder_ids):
        if deadline is not None and time.monotonic() >= deadline:
            outcome.deferred = list(reminder_ids[position:])
            break
        reminder = loaded.get(reminder_id)
        begun = (reminder if _begin_loaded_attempt(reminder, config, marking=unmarked)
                 else _begin_attempt(reminder_id, config))
        unmarked = None
        result = (begun if isinstance(begun, SendOutcome)
                  else _attempt(begun, config, mark_sent=False))
        if result.status == "sent":
            unmarked = begun
        if result.status == "retry":
            outcome.retried[reminder_id] = result.retry_in_seconds
            if result.server_unwell:
                outcome.deferred = list(reminder_ids[position + 1:])
                outcome.deferred_in_seconds = result.retry_in_seconds
                break
        else:
            getattr(outcome, result.status).append(reminder_id)
    _marked_alone(unmarked, None)
    outcome.released = _hand_back(outcome)
    return outcome


def _hand_back(outcome: BatchOutcome) -> list[int]:
    """Publish what the batch did not finish: each retried row as its own single-row task after
    its backoff (its lease was renewed when the attempt failed), the deferred rest as one batch
    task, their lease renewed first so that no dispatcher reclaims them while they wait. What
    the broker refuses goes back to pending for the next dispatcher tick; returns those ids."""
    from sessions.tasks import reminder_send_batch_task, reminder_send_task

    if outcome.deferred:
        now = timezone.now()
        Reminder.objects.filter(pk__in=outcome.deferred, status=Status.SENDING,
                                attempt_started_at__isnull=True).update(claimed_at=now,
                                                                        updated_at=now)
    publications = [(reminder_send_task, [pk], delay, [pk])
                    for pk, delay in outcome.retried.items()]
    if outcome.deferred:
        publications.append((reminder_send_batch_task, [outcome.deferred],
                             outcome.deferred_in_seconds, outcome.deferred))
    if not publications:
        return []
    unpublished: list[int] = []
    try:
        with reminder_send_task.app.producer_or_acquire() as producer:
            for position, (task, args, countdown, _ids) in enumerate(publications):
                try:
                    task.apply_async(args=args, countdown=countdown or None, retry=False,
                                     producer=producer)
                except (OperationalError, OSError):
                    unpublished = [pk for *_, rest in publications[position:] for pk in rest]
                    break
    except (OperationalError, OSError):  # no broker connection at all
        unpublished = [pk for *_, rest in publications for pk in rest]
    if unpublished:
        logger.warning("Broker unavailable, releasing %d reminders of a batch",
                       len(unpublished))
        _release(unpublished)
    return unpublished

"""What a reminder email looks like: subject, text and HTML bodies from templates under
templates/emails/, an .ics attachment for upcoming appointments, a deterministic Message-ID and
a signed one-click opt-out link (RFC 8058 List-Unsubscribe-Post).

Patient emails carry the minimum of health information (tests render every template against a
banned-word list): no drug, diagnosis, symptom or treatment word, a neutral sender name. A
clinician's alert says only that a patient needs review, with links into the record: email is
forwarded, synced to phones and kept by mail servers, so no identifier (MRN), symptom or kind
of event goes in it.
"""

import secrets
from datetime import UTC, timedelta
from email._policybase import Compat32
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from patients.models import Patient
from sessions import ics
from sessions.models import Reminder
from sessions.reminders import ReminderSettings, patient_zone

OPT_OUT_SALT = "reminders.opt-out"
TEMPLATES = {
    Reminder.Kind.UPCOMING_SESSION: "emails/upcoming_session",
    Reminder.Kind.POST_SESSION_CHECKIN: "emails/post_session_checkin",
    Reminder.Kind.FOLLOW_UP_CHECK: "emails/follow_up_check",
    Reminder.Kind.CLINICIAN_ALERT: "emails/clinician_alert",
}
SUBJECTS = {
    Reminder.Kind.UPCOMING_SESSION: "Your appointment on {when}",
    Reminder.Kind.POST_SESSION_CHECKIN: "Checking in after your visit",
    Reminder.Kind.FOLLOW_UP_CHECK: "A check-in from your care team",
    Reminder.Kind.CLINICIAN_ALERT: "A patient needs your review",
}


class _ShortHeadersAsIs(Compat32):
    """compat32, the policy Django's email messages use, with a shortcut for what nearly every
    header of a reminder is: one short ASCII line, which compat32 folds into itself by way of
    email.header.Header, the most costly step of turning a reminder into bytes (about 15 % of a
    worker's CPU per reminder). Anything else takes compat32's own path. The tests compare
    both, byte for byte, on every kind of reminder (tests/sessions/test_reminder_emails.py)."""

    def fold_binary(self, name, value):
        if (type(value) is str and value.isascii() and "\n" not in value and "\r" not in value
                and len(name) + 2 + len(value) <= (self.max_line_length or 0)):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


SHORT_HEADERS_AS_IS = _ShortHeadersAsIs()


class ReminderEmail(EmailMultiAlternatives):
    """A reminder's email: Django's, turned into bytes with SHORT_HEADERS_AS_IS, each multipart
    given a random boundary up front (else the generator compiles a new regular expression for
    every message to check the one it makes up is not in the text; 128 random bits cannot be)."""

    def message(self):
        message = super().message()
        message.policy = SHORT_HEADERS_AS_IS  # the generator's policy for every part
        for part in message.walk():
            if part.is_multipart():
                part.set_boundary(f"=============={secrets.token_hex(16)}==")
        return message


class UndeliverableError(Exception):
    """The reminder cannot be sent at all (no address): a permanent failure, not retried."""


def opt_out_token(patient: Patient) -> str:
    return signing.dumps(patient.pk, salt=OPT_OUT_SALT)


def patient_for_opt_out_token(token: str) -> Patient | None:
    try:
        patient_id = signing.loads(token, salt=OPT_OUT_SALT)
    except signing.BadSignature:
        return None
    return Patient.objects.filter(pk=patient_id).first()


def opt_out_url(patient: Patient, config: ReminderSettings) -> str:
    path = reverse("reminder_opt_out", kwargs={"token": opt_out_token(patient)})
    return config.site_url.rstrip("/") + path


def sender_address() -> str:
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return address or "appointments@localhost"


def message_id(reminder: Reminder) -> str:
    """The same for every attempt and redelivery of one reminder (a receiving server or client
    can drop a duplicate), different when a rescheduled appointment re-arms it.

    Re-arming sets a due time later than the previous send (at least "now"), so the due time to
    the microsecond, in UTC, tells the armings apart; to the minute it did not, and a session
    rescheduled within the minute of its announcement went out twice under one Message-ID."""
    domain = sender_address().rpartition("@")[2] or "localhost"
    return f"<reminder-{reminder.pk}-{reminder.due_at.astimezone(UTC):%Y%m%d%H%M%S%f}@{domain}>"


def format_local(moment, zone) -> str:
    local = moment.astimezone(zone)
    hour = local.strftime("%I").lstrip("0")
    return f"{local:%A %d %B %Y} at {hour}:{local:%M %p} ({local.tzname()})"


def reminder_context(reminder: Reminder, config: ReminderSettings) -> dict:
    patient = reminder.patient
    if reminder.kind == Reminder.Kind.CLINICIAN_ALERT:
        # Where the clinician acts on it, and nothing more: the session's page, and the
        # patient's history.
        site = config.site_url.rstrip("/")
        context = {"history_url": site + reverse("patient_history", args=[patient.pk])}
        if reminder.session_id:
            context["session_url"] = site + reverse("session_detail",
                                                    args=[reminder.session_id])
        return context
    context = {"patient_first_name": patient.first_name, "config": config,
               "preparation_text": config.preparation_text, "location": config.location}
    zone = patient_zone(patient)
    context["opt_out_url"] = opt_out_url(patient, config)
    if reminder.session_id:
        context["appointment_time"] = format_local(reminder.session.scheduled_at, zone)
    if reminder.follow_up_id:
        context["due_on"] = f"{reminder.follow_up.due_on:%A %d %B %Y}"
    return context


def recipient(reminder: Reminder) -> str:
    if reminder.kind == Reminder.Kind.CLINICIAN_ALERT:
        user = reminder.recipient_user
        address = user.email if user else ""
    else:
        address = reminder.patient.email
    if not address:
        raise UndeliverableError("No email address for the recipient.")
    return address


def reminder_email(reminder: Reminder, *, connection=None) -> ReminderEmail:
    config = ReminderSettings.from_settings()
    context = reminder_context(reminder, config)
    base = TEMPLATES[reminder.kind]
    subject = SUBJECTS[reminder.kind].format(when=context.get("appointment_time", ""))
    headers = {"Message-ID": message_id(reminder), "Auto-Submitted": "auto-generated"}
    if "opt_out_url" in context:
        headers["List-Unsubscribe"] = f"<{context['opt_out_url']}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = ReminderEmail(
        subject=subject,
        body=render_to_string(f"{base}.txt", context),
        from_email=formataddr((config.sender_name, sender_address())),
        to=[recipient(reminder)],
        headers=headers,
        connection=connection,
    )
    email.attach_alternative(render_to_string(f"{base}.html", context), "text/html")
    if reminder.kind == Reminder.Kind.UPCOMING_SESSION:
        session = reminder.session
        email.attach("appointment.ics", ics.event(
            uid=f"appointment-{session.pk}@{sender_address().rpartition('@')[2]}",
            start=session.scheduled_at,
            end=session.scheduled_at + timedelta(minutes=config.appointment_minutes),
            summary="Appointment", description=config.preparation_text,
            location=config.location, stamp=timezone.now(),
            sequence=int(session.updated_at.timestamp()),
        ), "text/calendar; method=PUBLISH")  # Django adds the charset (utf-8) itself
    return email

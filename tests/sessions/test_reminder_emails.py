"""Patient emails reveal no treatment, and every part of them is what the patient needs:
local time, preparation, calendar file, a working opt-out link."""

import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from sessions import ics, reminders, services
from sessions.models import FollowUp, Reminder, SideEffectObservation
from sessions.reminder_emails import format_local, message_id, reminder_email
from tests.factories import CourseFactory, PatientFactory, SessionFactory, symptom

pytestmark = pytest.mark.django_db

# Words that disclose the kind of care. Checked in subject, sender, both bodies and the .ics.
BANNED_WORDS = (
    "ketamine", "esketamine", "spravato", "treatment", "infusion", "dose", "dosing", "drug",
    "medication", "medicine", "depression", "depressive", "anxiety", "panic", "ptsd", "trauma",
    "psychiatr", "psycholog", "mental", "therapy", "therapeutic", "withdrawal", "symptom",
    "side effect", "dissociat", "sedat", "suicid", "self-harm", "diagnos", "prescri", "nasal",
    "spray", "injection", "mood", "phq", "gad-7", "rems", "clinic",
)
EMAIL_TEMPLATES = Path(django_settings.BASE_DIR) / "templates" / "emails"


def patient_reminders(clinician) -> list[Reminder]:
    patient = PatientFactory(first_name="Jordan", time_zone="America/Chicago")
    course = CourseFactory(patient=patient, responsible_clinician=clinician, drug="esketamine",
                           indication="mdd_si")
    session = services.session_schedule(patient=patient, course=course, clinician=clinician,
                                        scheduled_at=timezone.now() + timedelta(days=2))
    upcoming = Reminder.objects.get(session=session)
    check_in = Reminder.objects.create(kind=Reminder.Kind.POST_SESSION_CHECKIN,
                                       cause=f"session:{session.pk}", patient=patient,
                                       session=session, due_at=timezone.now())
    follow_up = FollowUp.objects.create(patient=patient, course=course, kind="course_7d",
                                        due_on=timezone.localdate() + timedelta(days=7))
    follow = Reminder.objects.create(kind=Reminder.Kind.FOLLOW_UP_CHECK, cause="course:x:7d",
                                     patient=patient, course=course, follow_up=follow_up,
                                     due_at=timezone.now())
    return [upcoming, check_in, follow]


def everything_the_patient_sees(email) -> str:
    parts = [email.subject, email.from_email, email.body]
    parts += [content for content, _ in email.alternatives]
    parts += [attachment[1] for attachment in email.attachments]
    return "\n".join(str(part) for part in parts).lower()


def test_every_patient_template_is_free_of_treatment_words(clinician, settings):
    rendered = patient_reminders(clinician)
    assert {r.kind for r in rendered} == set(reminders.PATIENT_KINDS)
    used = {f"{kind}.{ext}" for kind in ("upcoming_session", "post_session_checkin",
                                         "follow_up_check") for ext in ("txt", "html")}
    on_disk = {p.name for p in EMAIL_TEMPLATES.iterdir()
               if not p.name.startswith(("_", "clinician_"))}
    assert on_disk == used, "a new patient template must be added to this test"
    for reminder in rendered:
        seen = everything_the_patient_sees(reminder_email(reminder))
        for word in BANNED_WORDS:
            assert word not in seen, f"{reminder.kind} email contains “{word}”"


def test_banned_word_check_catches_a_disclosing_sender(clinician, settings):
    settings.CLINIC_REMINDERS = {"sender_name": "Ketamine Wellness Clinic"}
    seen = everything_the_patient_sees(reminder_email(patient_reminders(clinician)[0]))
    assert "ketamine" in seen


def test_appointment_time_is_shown_in_the_patients_zone_across_dst():
    zone = reminders.ZoneInfo("America/New_York")
    before = datetime(2027, 3, 13, 14, tzinfo=UTC)  # 09:00 EST
    after = datetime(2027, 3, 15, 13, tzinfo=UTC)  # 09:00 EDT
    assert format_local(before, zone) == "Saturday 13 March 2027 at 9:00 AM (EST)"
    assert format_local(after, zone) == "Monday 15 March 2027 at 9:00 AM (EDT)"


def test_ics_is_rfc5545_shaped():
    text = ics.event(uid="a-1@example.test", start=datetime(2027, 3, 15, 13, tzinfo=UTC),
                     end=datetime(2027, 3, 15, 16, tzinfo=UTC), summary="Appointment",
                     description="Bring a friend; arrive early, please. " * 5,
                     location="12 Main St, Suite 4", stamp=datetime(2027, 3, 1, tzinfo=UTC))
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "DTSTART:20270315T130000Z\r\n" in text
    assert "LOCATION:12 Main St\\, Suite 4\r\n" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    unfolded = text.replace("\r\n ", "")
    assert "Bring a friend\\; arrive early\\, please." in unfolded
    assert not re.search(r"(?<!\r)\n", text)


def _clinician_alerts(clinician, nurse) -> list[Reminder]:
    """One alert for a serious, severe side effect and one for a self-harm answer."""
    session = SessionFactory(course__responsible_clinician=clinician)
    observation = SideEffectObservation.objects.create(
        session=session, symptom=symptom("Nausea"), severity="severe", is_serious=True,
        onset_at=timezone.now(), recorded_by=nurse)
    side_effect = Reminder.objects.create(
        kind="clinician_alert", cause=f"observation:{observation.pk}", patient=session.patient,
        session=session, observation=observation, recipient_user=clinician,
        due_at=timezone.now())
    self_harm = Reminder.objects.create(
        kind="clinician_alert", cause="consultation:1", patient=session.patient,
        session=session, recipient_user=clinician, due_at=timezone.now())
    return [side_effect, self_harm]


def test_clinician_alert_says_a_patient_needs_review_and_links_to_the_record_only(
        clinician, nurse):
    """Email is forwarded, synced to phones and kept by mail servers: the alert names no
    patient, no identifier, no symptom and no kind of event; the record says what happened."""
    for alert in _clinician_alerts(clinician, nurse):
        email = reminder_email(alert)
        patient = alert.patient
        assert email.to == [clinician.email]
        assert email.subject == "A patient needs your review"
        html = email.alternatives[0][0]
        assert "A patient needs your review." in email.body and "needs your review" in html
        assert f"/sessions/{alert.session_id}/" in email.body
        assert f"/patients/{patient.pk}/" in email.body
        text = "\n".join([email.subject, email.body, html])
        without_links = re.sub(r"https?://\S+|href=\"[^\"]*\"", "", text).lower()
        for disclosing in (patient.mrn, patient.first_name, patient.last_name, "nausea",
                           "severe", "serious", "side effect", "phq", "self-harm", "event",
                           "safety", f"session: {alert.session_id}"):
            assert disclosing.lower() not in without_links, disclosing


def test_reminder_emails_are_the_bytes_django_would_send(clinician):
    """ReminderEmail takes a shortcut for short ASCII headers and sets each multipart's
    boundary up front; the bytes on the wire are exactly those of Django's own policy, for
    every kind of reminder, including a subject too long for one line and one with accents."""
    alert = Reminder.objects.create(
        kind="clinician_alert", cause="consultation:2", patient=patient_reminders(clinician)[0]
        .patient, recipient_user=clinician, due_at=timezone.now())
    reminders_ = [*Reminder.objects.filter(kind__in=reminders.PATIENT_KINDS), alert]
    reminders_[0].patient.first_name = "Zoë-" + "Long" * 20  # non-ASCII, folded headers
    seen_boundaries = set()
    for reminder in reminders_:
        message = reminder_email(reminder).message()
        sent = message.as_bytes(linesep="\r\n")
        message.policy = compat32  # Django's own; the boundaries stay as they are
        assert sent == message.as_bytes(linesep="\r\n"), reminder.kind
        parsed = message_from_bytes(sent)
        assert parsed["Message-ID"] == message_id(reminder)
        boundaries = {part.get_boundary() for part in parsed.walk() if part.is_multipart()}
        assert boundaries and not boundaries & seen_boundaries  # one of its own per message
        seen_boundaries |= boundaries
        assert [part.get_content_type() for part in parsed.walk()][:3] in (
            ["multipart/alternative", "text/plain", "text/html"],
            ["multipart/mixed", "multipart/alternative", "text/plain"])


def test_ics_escapes_a_lone_carriage_return():
    """A location typed on an old system ends its lines with a bare CR; left as is, a
    calendar reads it as the end of the property line."""
    text = ics.event(uid="a-2@example.test", start=datetime(2027, 3, 15, 13, tzinfo=UTC),
                     end=datetime(2027, 3, 15, 16, tzinfo=UTC), summary="Appointment",
                     description="Line one\rLine two\r\nLine three\nLine four\x07",
                     location="12 Main St\rBack entrance", stamp=datetime(2027, 3, 1, tzinfo=UTC))
    assert not re.search(r"\r(?!\n)", text)
    unfolded = text.replace("\r\n ", "")
    assert "LOCATION:12 Main St\\nBack entrance\r\n" in unfolded
    assert "DESCRIPTION:Line one\\nLine two\\nLine three\\nLine four\r\n" in unfolded


def test_calendar_attachment_declares_its_charset_once(clinician, settings):
    settings.CLINIC_REMINDERS = {**settings.CLINIC_REMINDERS,
                                 "location": "12 Main St\rBack entrance, Suite 4"}
    upcoming = patient_reminders(clinician)[0]
    sent = reminder_email(upcoming).message().as_bytes(linesep="\r\n")
    [calendar] = [part for part in message_from_bytes(sent).walk()
                  if part.get_content_type() == "text/calendar"]
    assert calendar["Content-Type"].lower().count("charset") == 1
    assert calendar.get_param("method") == "PUBLISH"
    assert calendar.get_content_charset() == "utf-8"
    text = calendar.get_payload(decode=True).decode("utf-8")
    assert "12 Main St\\nBack entrance\\, Suite 4" in text.replace("\r\n ", "")
    assert not re.search(r"\r(?!\n)", text)

"""A seeded dataset with at least one object of every model the admin shows, so the URL walk
can fill every ``<object_id>`` with a real id."""

from datetime import timedelta

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.services import patient_access_record
from patients.models import Patient
from sessions import services
from sessions.demo import seed_demo
from sessions.models import (
    FollowUp,
    Reminder,
    SideEffectObservation,
    SymptomType,
    TreatmentSession,
)

ROLES = ("anonymous", "Front desk", "Nurse", "Clinician", "Clinic admin", "superuser")


def _user_object():
    # Not a superuser: a clinic admin may manage ordinary accounts only.
    return get_user_model().objects.filter(is_superuser=False).order_by("pk").first()


def _ensure_extra_rows():
    patient = Patient.objects.order_by("pk").first()
    session = TreatmentSession.objects.filter(patient=patient).order_by("pk").first()
    staff = _user_object()
    if not FollowUp.objects.exists():
        FollowUp.objects.create(patient=patient, session=session, kind="post_session",
                                due_on=timezone.localdate() + timedelta(days=1))
    if not Reminder.objects.exists():
        Reminder.objects.create(kind="upcoming_session", cause=f"session:{session.pk}",
                                patient=patient, session=session,
                                due_at=timezone.now() + timedelta(hours=2))
    _ensure_clinician_alerts()
    request = RequestFactory().get("/admin/")
    request.user = staff
    patient_access_record(request=request, patient=patient, what="dataset row")
    AccessAttempt.objects.create(username="someone", ip_address="192.0.2.1", user_agent="t",
                                 http_accept="*/*", path_info="/admin/login/",
                                 get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(username=staff.username, ip_address="192.0.2.1", user_agent="t",
                             http_accept="*/*", path_info="/admin/login/")
    AccessFailureLog.objects.create(username="someone", ip_address="192.0.2.1",
                                    user_agent="t", http_accept="*/*",
                                    path_info="/admin/login/", locked_out=False)
    if not TOTPDevice.objects.exists():
        TOTPDevice.objects.create(user=staff, name="Dataset device", confirmed=True)
    assert SideEffectObservation.objects.exists(), "seed_demo should record side effects"


def _ensure_clinician_alerts():
    """A self-harm answer and a severe side effect in today's started session, recorded through
    the services as a nurse would: the two clinician safety alerts the walk must show to the
    clinical roles only. Created after the other reminders, so the reminder the walk opens
    (the first) is a patient's own."""
    if Reminder.objects.filter(kind=Reminder.Kind.CLINICIAN_ALERT).exists():
        return
    session = TreatmentSession.objects.filter(
        status=TreatmentSession.Status.IN_PROGRESS).order_by("pk").first()
    assert session is not None, "seed_demo should start one of today's sessions"
    nurse = get_user_model().objects.get(username="nurse")
    services.consultation_record(
        session=session, recorded_by=nurse, mental_health_history="Synthetic history.",
        current_symptoms="Low mood.", panic_concerns=True, panic_attacks_since_last_session=0,
        **{f"phq9_item_{n}": 1 for n in range(1, 10)},  # item 9 above 0: self-harm alert
        **{f"gad7_item_{n}": 1 for n in range(1, 8)},
    )
    services.side_effect_record(
        session=session, recorded_by=nurse,
        symptom=SymptomType.objects.get(name="Heightened anxiety"),
        severity=SideEffectObservation.Severity.SEVERE, onset_at=timezone.now(),
    )
    assert Reminder.objects.filter(kind=Reminder.Kind.CLINICIAN_ALERT).count() == 2


def build_dataset() -> dict:
    """{model: an object of it} for every model registered in the admin."""
    seed_demo()
    _ensure_extra_rows()
    objects = {}
    for model in admin.site._registry:
        if model is get_user_model():
            obj = _user_object()
        else:
            obj = model._default_manager.order_by("pk").first()
        assert obj is not None, (
            f"The URL walk needs an object of {model._meta.label}: create one in "
            "tests/security/dataset.py (_ensure_extra_rows).")
        objects[model] = obj
    return objects

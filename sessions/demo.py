"""Synthetic demo data, written through the services so it obeys every rule.

Every patient here is invented. Idempotent: a patient is keyed by a demo email address, a
user by username; running it twice creates nothing twice.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from patients.models import Condition, Medication, Patient
from sessions import services
from sessions.models import SideEffectObservation, SymptomType, VitalSign
from sessions.reminders import ReminderSettings

DEMO_EMAIL_DOMAIN = "example.test"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str | None  # a group from sessions.roles; None for the superuser
    first_name: str
    last_name: str


DEMO_ACCOUNTS = (
    DemoAccount("admin", "demo-admin-pass-2026", None, "Avery", "Admin"),
    DemoAccount("clinician", "demo-clinician-pass-2026", "Clinician", "Casey", "Morgan"),
    DemoAccount("nurse", "demo-nurse-pass-2026", "Nurse", "Noor", "Haddad"),
    DemoAccount("frontdesk", "demo-frontdesk-pass-2026", "Front desk", "Frankie", "Lee"),
)

# (first, last, born, sex, time zone, conditions, medications as (name, class, changed days ago))
DEMO_PATIENTS = (
    ("Ada", "Quill", date(1984, 3, 14), "female", "America/New_York",
     ["depression", "anxiety"], [("Sertraline", "antidepressant", 120)]),
    ("Bram", "Oakley", date(1971, 11, 2), "male", "America/Chicago",
     ["depression", "hypertension"], [("Lisinopril", "antihypertensive", 400)]),
    ("Cleo", "Marsh", date(1992, 7, 30), "female", "Europe/London",
     ["trauma_ptsd", "panic_disorder"], [("Lorazepam", "benzodiazepine", 200)]),
    ("Dev", "Ashford", date(1988, 1, 9), "male", "America/Los_Angeles",
     ["depression"], [("Bupropion", "antidepressant", 10)]),
    ("Esme", "Tarrant", date(1979, 5, 21), "female", "America/New_York",
     ["depression", "cardiovascular"], []),
    ("Finn", "Calder", date(1995, 9, 3), "male", "America/Denver",
     ["depression", "substance_use"], [("Methylphenidate", "psychostimulant", 300)]),
)


def ensure_accounts() -> list[DemoAccount]:
    User = get_user_model()
    for account in DEMO_ACCOUNTS:
        user, created = User.objects.get_or_create(
            username=account.username,
            defaults={"first_name": account.first_name, "last_name": account.last_name,
                      "email": f"{account.username}@{DEMO_EMAIL_DOMAIN}", "is_staff": True},
        )
        if created:
            user.set_password(account.password)
            user.is_superuser = account.role is None
            user.save()
            if account.role:
                user.groups.add(Group.objects.get(name=account.role))
    return list(DEMO_ACCOUNTS)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))


def _symptom(name: str, category: str) -> SymptomType:
    return SymptomType.objects.get(name=name, category=category)


def log_full_session(session, *, nurse, clinician, day: date, weight=Decimal("72.0"),
                     with_panic=False):
    """Walk one session through all five steps, with vitals and side effects."""
    services.consultation_record(
        session=session, recorded_by=nurse, mental_health_history="Synthetic history.",
        current_symptoms="Low mood, poor sleep.", panic_concerns=with_panic,
        panic_attacks_since_last_session=1 if with_panic else 0,
        **{f"phq9_item_{n}": (2 if n < 9 else 0) for n in range(1, 10)},
        **{f"gad7_item_{n}": 1 for n in range(1, 8)},
    )
    services.evaluation_record(
        session=session, recorded_by=clinician, decision="cleared", systolic_mmhg=124,
        diastolic_mmhg=80, heart_rate_bpm=72, spo2_percent=98, weight_kg=weight,
        screening_notes="Interactions reviewed.",
        override_reason="", measured_at=_at(day, 9, 10),
    )
    services.expectations_record(
        session=session, recorded_by=nurse, consent_signed=True,
        consent_signed_at=_at(day, 9, 20), side_effects_explained=True,
        plan_deep_breathing=True, plan_grounding=True, plan_tell_staff=True,
        transport_arranged=True, transport_details="Partner drives home.",
    )
    first_dose = _at(day, 9, 30)
    drug = session.course.drug
    services.administration_record(
        session=session, recorded_by=nurse, drug=drug,
        route="intranasal" if drug == "esketamine" else "iv",
        dose_mg=Decimal("56") if drug == "esketamine" else weight * Decimal("0.5"),
        started_at=first_dose, ended_at=first_dose + timedelta(minutes=40),
        lot_number="DEMO-LOT-0001",
    )
    for minutes, phase, systolic, diastolic in (
        (-5, VitalSign.Phase.PRE_DOSE, 126, 82), (40, VitalSign.Phase.POST_DOSE_40, 142, 88),
        (90, VitalSign.Phase.PERIODIC, 132, 84), (125, VitalSign.Phase.PRE_DISCHARGE, 124, 80),
    ):
        services.vital_sign_record(
            session=session, recorded_by=nurse, measured_at=first_dose + timedelta(minutes=minutes),
            phase=phase, systolic_mmhg=systolic, diastolic_mmhg=diastolic, heart_rate_bpm=78,
            spo2_percent=97,
        )
    services.side_effect_record(
        session=session, recorded_by=nurse, symptom=_symptom("Dissociation", "acute"),
        severity=SideEffectObservation.Severity.MILD, onset_at=first_dose + timedelta(minutes=15),
        resolved_at=first_dose + timedelta(minutes=70),
        intervention=SideEffectObservation.Intervention.REASSURANCE,
    )
    if with_panic:
        services.side_effect_record(
            session=session, recorded_by=nurse, symptom=_symptom("Panic attack", "panic"),
            severity=SideEffectObservation.Severity.MODERATE,
            onset_at=first_dose + timedelta(minutes=20),
            resolved_at=first_dose + timedelta(minutes=35),
            intervention=SideEffectObservation.Intervention.DEEP_BREATHING,
        )
    services.monitoring_record(
        session=session, recorded_by=nurse, discharged_at=first_dose + timedelta(minutes=130),
        discharge_criteria_met=True, cadss_score=12, moaas_score=5,
        discharged_with="Partner", discharge_notes="Alert, steady gait.",
    )


@transaction.atomic
def seed_demo() -> dict[str, int]:
    """Demo accounts and a handful of synthetic patients in every state of a session."""
    ensure_accounts()
    User = get_user_model()
    nurse = User.objects.get(username="nurse")
    clinician = User.objects.get(username="clinician")
    today = timezone.localdate()
    reminder_lead_hours = ReminderSettings.from_settings().upcoming_session_hours_before
    created = 0
    for index, (first, last, born, sex, zone, conditions, medications) in enumerate(DEMO_PATIENTS):
        email = f"{first.lower()}.{last.lower()}@{DEMO_EMAIL_DOMAIN}"
        if Patient.objects.filter(email=email).exists():
            continue
        created += 1
        patient = Patient.objects.create(
            first_name=first, last_name=last, date_of_birth=born, sex=sex, email=email,
            phone="+1 555 0100", time_zone=zone, emergency_contact_name="Demo Contact",
            emergency_contact_phone="+1 555 0199",
        )
        for kind in conditions:
            Condition.objects.create(patient=patient, kind=kind)
        for name, drug_class, changed_days_ago in medications:
            Medication.objects.create(patient=patient, name=name, drug_class=drug_class,
                                      changed_on=today - timedelta(days=changed_days_ago))
        drug = "esketamine" if index % 2 else "ketamine"
        course = services.course_create(
            patient=patient, indication="trd", drug=drug, planned_sessions=6,
            responsible_clinician=clinician, started_on=today - timedelta(days=21),
        )
        # Three completed sessions a week apart, then today's and next week's.
        for week in (3, 2, 1):
            day = today - timedelta(days=7 * week)
            session = services.session_schedule(patient=patient, course=course,
                                                clinician=clinician, scheduled_at=_at(day, 9))
            log_full_session(session, nurse=nurse, clinician=clinician, day=day,
                             with_panic="panic_disorder" in conditions)
        todays = services.session_schedule(patient=patient, course=course, clinician=clinician,
                                           scheduled_at=_at(today, 9 + index))
        if index == 0:
            services.session_start(session=todays)
        services.session_schedule(patient=patient, course=course, clinician=clinician,
                                  scheduled_at=_at(today + timedelta(days=7), 9 + index))
        if index < 3:
            # Booked just over a day ahead, so their upcoming-session reminders fall due within
            # the first minutes of `make run` and emails appear in var/mail/.
            services.session_schedule(
                patient=patient, course=course, clinician=clinician,
                scheduled_at=timezone.now() + timedelta(hours=reminder_lead_hours,
                                                        seconds=20 + 90 * index),
            )
    return {"patients_created": created, "patients_total": Patient.objects.count()}

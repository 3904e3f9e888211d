"""factory_boy factories and the data of a valid step, shared by the whole suite.

All patients are synthetic.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from patients.models import Condition, Medication, Patient
from sessions.models import SymptomType, TreatmentCourse, TreatmentSession


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = "Sam"
    last_name = factory.Sequence(lambda n: f"Staff{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery-9")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))
        if create:
            self.save()


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    first_name = factory.Sequence(lambda n: f"Pat{n}")
    last_name = factory.Sequence(lambda n: f"Synthetic{n}")
    date_of_birth = date(1985, 6, 15)
    sex = "unknown"
    email = factory.LazyAttribute(lambda p: f"{p.first_name.lower()}@example.test")
    time_zone = "America/New_York"


class ConditionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Condition

    patient = factory.SubFactory(PatientFactory)
    kind = "depression"


class MedicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Medication

    patient = factory.SubFactory(PatientFactory)
    name = "Sertraline"
    drug_class = "antidepressant"


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TreatmentCourse

    patient = factory.SubFactory(PatientFactory)
    indication = "trd"
    drug = "ketamine"
    planned_sessions = 6
    responsible_clinician = factory.SubFactory(UserFactory, role="Clinician")
    started_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=7))


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TreatmentSession

    course = factory.SubFactory(CourseFactory)
    patient = factory.SelfAttribute("course.patient")
    clinician = factory.SelfAttribute("course.responsible_clinician")
    # This morning's appointment: the step data below dates the first dose 150 minutes ago, and
    # no clinical time may be before its session started (sessions.timing).
    scheduled_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=4))


def symptom(name: str, category: str = "acute") -> SymptomType:
    return SymptomType.objects.get(name=name, category=category)


# --- valid data for each step (override what a test is about) --------------------------------

def consultation_data(**overrides) -> dict:
    data = {f"phq9_item_{n}": 1 for n in range(1, 10)}
    data["phq9_item_9"] = 0
    data.update({f"gad7_item_{n}": 1 for n in range(1, 8)})
    data.update(mental_health_history="Synthetic history", current_symptoms="Low mood",
                panic_concerns=False, panic_attacks_since_last_session=0)
    data.update(overrides)
    return data


def evaluation_data(**overrides) -> dict:
    data = dict(systolic_mmhg=122, diastolic_mmhg=78, heart_rate_bpm=70, spo2_percent=98,
                respiratory_rate_per_min=14, weight_kg=Decimal("80.0"),
                alcohol_or_drugs_last_24h=False, active_psychosis=False, screening_notes="",
                decision="cleared", override_reason="")
    data.update(overrides)
    return data


def expectations_data(**overrides) -> dict:
    data = dict(consent_signed=True, side_effects_explained=True, plan_deep_breathing=True,
                plan_grounding=False, plan_tell_staff=True, anxiety_plan_notes="",
                transport_arranged=True, transport_details="Sister drives")
    data.update(overrides)
    return data


def administration_data(started_at: datetime | None = None, **overrides) -> dict:
    started_at = started_at or timezone.now() - timedelta(minutes=150)
    # A 40-minute infusion; one started less than 40 minutes ago is still running.
    ended_at = started_at + timedelta(minutes=40)
    data = dict(drug="ketamine", route="iv", dose_mg=Decimal("40.00"), started_at=started_at,
                ended_at=ended_at if ended_at <= timezone.now() else None,
                lot_number="LOT-TEST-1", notes="")
    data.update(overrides)
    return data


def monitoring_data(discharged_at: datetime | None = None, **overrides) -> dict:
    data = dict(discharged_at=discharged_at or timezone.now(), discharge_criteria_met=True,
                cadss_score=10, moaas_score=5, discharged_with="Sister", discharge_notes="")
    data.update(overrides)
    return data

"""Patients and the history the safety rules read: conditions and medications."""

import secrets
import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from simple_history.models import HistoricalRecords

from audit.versioning import Versioned

MRN_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud over the phone


def generate_mrn() -> str:
    """A random medical record number; 32**8 values make a collision vanishingly rare and the
    unique constraint catches the rare one."""
    return "MRN-" + "".join(secrets.choice(MRN_ALPHABET) for _ in range(8))


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known IANA time zone (e.g. Europe/London).")


class ConditionKind(models.TextChoices):
    ANXIETY = "anxiety", "Anxiety disorder"
    PANIC_DISORDER = "panic_disorder", "Panic disorder"
    TRAUMA_PTSD = "trauma_ptsd", "Trauma / PTSD"
    DEPRESSION = "depression", "Depression"
    BIPOLAR = "bipolar", "Bipolar disorder"
    PSYCHOSIS = "psychosis", "Psychosis"
    HYPERTENSION = "hypertension", "Hypertension"
    CARDIOVASCULAR = "cardiovascular", "Cardiovascular disease"
    SUBSTANCE_USE = "substance_use", "Substance use"
    PREGNANCY = "pregnancy", "Pregnancy"
    OTHER = "other", "Other"


class DrugClass(models.TextChoices):
    MAOI = "maoi", "MAOI"
    PSYCHOSTIMULANT = "psychostimulant", "Psychostimulant"
    BENZODIAZEPINE = "benzodiazepine", "Benzodiazepine"
    SEDATIVE = "sedative", "Other sedative / hypnotic"
    OPIOID = "opioid", "Opioid"
    LAMOTRIGINE = "lamotrigine", "Lamotrigine"
    ANTIDEPRESSANT = "antidepressant", "Antidepressant (non-MAOI)"
    ANTIPSYCHOTIC = "antipsychotic", "Antipsychotic"
    MOOD_STABILIZER = "mood_stabilizer", "Mood stabilizer"
    ANTIHYPERTENSIVE = "antihypertensive", "Antihypertensive"
    OTHER = "other", "Other"


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    INTERSEX = "intersex", "Intersex"
    UNKNOWN = "unknown", "Unknown / not stated"


class PatientQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_archived=False)


class Patient(Versioned):
    mrn = models.CharField(
        "MRN", max_length=12, unique=True, default=generate_mrn, editable=False,
        help_text="Medical record number, generated.",
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    email = models.EmailField(blank=True)
    phone = models.CharField(
        max_length=32, blank=True,
        validators=[RegexValidator(r"^\+?[0-9 ()\-.]{6,31}$", "Enter a phone number: digits, "
                                   "spaces and + ( ) - . only.")],
    )
    time_zone = models.CharField(
        max_length=64, default="America/New_York", validators=[validate_time_zone],
        help_text="IANA time zone; reminder times are shown in it.",
    )
    reminders_opt_in = models.BooleanField(
        "receives reminders", default=True,
        help_text="Unticked when the patient opts out; no reminder email is then sent.",
    )
    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_phone = models.CharField(max_length=32, blank=True)
    is_archived = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PatientQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(Lower("last_name"), Lower("first_name"), name="patient_name_idx"),
            models.Index(fields=["date_of_birth"], name="patient_dob_idx"),
            # The default ordering (admin list): a page is read in order, not sorted.
            models.Index(fields=["last_name", "first_name", "id"], name="patient_ordering_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_archived=False) | Q(archived_at__isnull=False),
                name="patient_archived_has_time",
                violation_error_message="An archived patient needs the time of archiving.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name} ({self.mrn})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Condition(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="conditions")
    kind = models.CharField(max_length=20, choices=ConditionKind.choices)
    notes = models.TextField(blank=True)
    diagnosed_on = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True, help_text="Untick when resolved; kept on record.")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "id"]

    def __str__(self) -> str:
        return self.get_kind_display()


class Medication(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="medications")
    name = models.CharField(max_length=120)
    drug_class = models.CharField(max_length=20, choices=DrugClass.choices)
    dose = models.CharField(max_length=120, blank=True, help_text="As prescribed, free text.")
    started_on = models.DateField(null=True, blank=True)
    changed_on = models.DateField(
        null=True, blank=True, help_text="Last dose change; a recent antidepressant change warns.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_drug_class_display()})"




class HistoryCacheEntry(models.Model):
    """The history page's shared cache tier (patients/history_cache.py): charts, session
    summaries and rendered session cards, under keys that carry the change stamps they were
    built for, so every web process and every restart finds what any process built.

    Derived from the clinical record and rebuilt from it at will: not a clinical record, not
    audited, pruned by age (`history_cache_prune`). It holds health information as the rest of
    this database does, and nowhere else."""

    key = models.CharField(max_length=250, primary_key=True)
    value = models.BinaryField()
    stored_at = models.DateTimeField(db_index=True)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return self.key

"""Treatment courses, sessions and the five steps every session walks through.

Invariants live twice on purpose: in forms/services (a message a nurse can act on) and in
database check constraints (nothing slips past a bulk update or a bug).
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from audit.versioning import Versioned
from clinic.local_time import clinic_time_label
from patients.models import Patient
from sessions import scales

USER = settings.AUTH_USER_MODEL

# The five steps, in the order they must be recorded: (step code, accessor on the session).
STEPS = (
    ("consultation", "Consultation"),
    ("evaluation", "Medical evaluation"),
    ("expectations", "Setting expectations"),
    ("administration", "Treatment administration"),
    ("monitoring", "Post-treatment monitoring"),
)
STEP_CODES = tuple(code for code, _ in STEPS)
STEP_LABELS = dict(STEPS)
# The reverse accessor of each step's one-to-one on TreatmentSession.
STEP_ACCESSORS = {
    "consultation": "consultation",
    "evaluation": "evaluation",
    "expectations": "expectation_setting",
    "administration": "administration",
    "monitoring": "monitoring",
}


def between(field: str, low, high) -> Q:
    return Q(**{f"{field}__gte": low, f"{field}__lte": high})


def null_or_between(field: str, low, high) -> Q:
    return Q(**{f"{field}__isnull": True}) | between(field, low, high)


def range_message(label: str, low, high) -> str:
    """A check constraint's message: the nurse sees it when the form lets the value through,
    so it names the field and the range, never the constraint. Django %-formats it with the
    constraint's name: a literal "%" (SpO2 (%)) is doubled."""
    message = f"{label[:1].upper()}{label[1:]} must be between {low} and {high}."
    return message.replace("%", "%%")


class Drug(models.TextChoices):
    KETAMINE = "ketamine", "Racemic ketamine"
    ESKETAMINE = "esketamine", "Esketamine"


class Route(models.TextChoices):
    IV_INFUSION = "iv", "IV infusion"
    INTRANASAL = "intranasal", "Intranasal spray"
    INTRAMUSCULAR = "im", "Intramuscular"
    ORAL = "oral", "Oral / sublingual"


class Indication(models.TextChoices):
    TREATMENT_RESISTANT_DEPRESSION = "trd", "Treatment-resistant depression"
    DEPRESSION_WITH_SUICIDAL_IDEATION = "mdd_si", "Depression with suicidal ideation"
    PTSD = "ptsd", "PTSD"
    ANXIETY = "anxiety", "Anxiety disorder"
    OTHER = "other", "Other"


class TreatmentCourse(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Stopped early"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses")
    indication = models.CharField(max_length=20, choices=Indication.choices)
    drug = models.CharField(max_length=20, choices=Drug.choices)
    planned_sessions = models.PositiveSmallIntegerField(
        default=6, validators=[MinValueValidator(1), MaxValueValidator(60)],
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    responsible_clinician = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="courses_responsible",
    )
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    is_archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-started_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=between("planned_sessions", 1, 60),
                                   name="course_planned_sessions_range",
                                   violation_error_message=range_message("planned sessions",
                                                                         1, 60)),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="course_ends_after_start",
                violation_error_message="A course cannot end before it starts.",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "status"], name="course_patient_status_idx"),
            # The default ordering (admin list): a page is read in order, not sorted.
            models.Index(fields=["-started_on", "-id"], name="course_ordering_idx"),
        ]

    def __str__(self) -> str:
        # The patient first: a course list (the session form's Course field) is read by patient.
        patient = self.patient
        return (f"{patient.last_name}, {patient.first_name} — {self.get_drug_display()} for "
                f"{self.get_indication_display()}, from {self.started_on:%Y-%m-%d}")


class TreatmentSession(Versioned):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="sessions")
    course = models.ForeignKey(TreatmentCourse, on_delete=models.PROTECT, related_name="sessions")
    clinician = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="sessions_responsible",
        help_text="Responsible clinician; serious side effects alert them.",
    )
    scheduled_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=300, blank=True)
    is_archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        permissions = [
            ("override_evaluation_block", "Can clear a patient despite blocking findings"),
        ]
        indexes = [
            models.Index(fields=["patient", "-scheduled_at"], name="session_patient_time_idx"),
            models.Index(fields=["status", "scheduled_at"], name="session_status_time_idx"),
            models.Index(fields=["scheduled_at"], name="session_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_at__isnull=False),
                name="session_completed_has_time",
                violation_error_message="A completed session needs the time it was completed.",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="session_cancelled_has_time",
                violation_error_message="A cancelled session needs the time it was cancelled.",
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} — {self.patient} — {clinic_time_label(self.scheduled_at)}"

    def step_record(self, step: str):
        """The recorded step model instance, or None (uses the cached one-to-one)."""
        return getattr(self, STEP_ACCESSORS[step], None)

    @property
    def recorded_steps(self) -> list[str]:
        return [code for code in STEP_CODES if self.step_record(code) is not None]

    @property
    def current_step(self) -> str | None:
        """The next step to record, or None when all five are done."""
        for code in STEP_CODES:
            if self.step_record(code) is None:
                return code
        return None

    @property
    def current_step_label(self) -> str:
        if self.status in (self.Status.CANCELLED, self.Status.NO_SHOW):
            return self.get_status_display()
        step = self.current_step
        return STEP_LABELS[step] if step else "Done"


class StepRecord(Versioned):
    """What every step shares: its session, who recorded it and when."""

    # The field holding when what the step records happened (entered by staff, possibly
    # after the fact); a step without one happened when it was recorded.
    happened_at_field: str | None = None

    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(inherit=True)

    class Meta:
        abstract = True

    @property
    def happened_at(self):
        return getattr(self, self.happened_at_field) if self.happened_at_field else None


PHQ9_FIELDS = tuple(f"phq9_item_{n}" for n in range(1, scales.PHQ9_ITEM_COUNT + 1))
GAD7_FIELDS = tuple(f"gad7_item_{n}" for n in range(1, scales.GAD7_ITEM_COUNT + 1))
PHQ9_QUESTIONS = (
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself, or that you are a failure",
    "Trouble concentrating on things",
    "Moving or speaking slowly, or being fidgety or restless",
    "Thoughts that you would be better off dead, or of hurting yourself",
)
GAD7_QUESTIONS = (
    "Feeling nervous, anxious, or on edge",
    "Not being able to stop or control worrying",
    "Worrying too much about different things",
    "Trouble relaxing",
    "Being so restless that it is hard to sit still",
    "Becoming easily annoyed or irritable",
    "Feeling afraid as if something awful might happen",
)
ITEM_CHOICES = [
    (0, "0 — Not at all"),
    (1, "1 — Several days"),
    (2, "2 — More than half the days"),
    (3, "3 — Nearly every day"),
]


PANIC_ATTACKS_MAX = 500  # more since the last session is a typing error


def _item_field(question: str) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(question, choices=ITEM_CHOICES)


def _item_label(name: str) -> str:
    """"phq9_item_9" -> "PHQ-9 item 9"."""
    scale, _, number = name.partition("_item_")
    return f"{ {'phq9': 'PHQ-9', 'gad7': 'GAD-7'}[scale]} item {number}"


class Consultation(StepRecord):
    session = models.OneToOneField(
        TreatmentSession, on_delete=models.PROTECT, related_name="consultation",
    )
    mental_health_history = models.TextField(blank=True)
    current_symptoms = models.TextField(blank=True)
    panic_concerns = models.BooleanField(
        "concerned about panic attacks", default=False,
    )
    panic_attacks_since_last_session = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(PANIC_ATTACKS_MAX)],
    )
    phq9_item_1 = _item_field(PHQ9_QUESTIONS[0])
    phq9_item_2 = _item_field(PHQ9_QUESTIONS[1])
    phq9_item_3 = _item_field(PHQ9_QUESTIONS[2])
    phq9_item_4 = _item_field(PHQ9_QUESTIONS[3])
    phq9_item_5 = _item_field(PHQ9_QUESTIONS[4])
    phq9_item_6 = _item_field(PHQ9_QUESTIONS[5])
    phq9_item_7 = _item_field(PHQ9_QUESTIONS[6])
    phq9_item_8 = _item_field(PHQ9_QUESTIONS[7])
    phq9_item_9 = _item_field(PHQ9_QUESTIONS[8])
    gad7_item_1 = _item_field(GAD7_QUESTIONS[0])
    gad7_item_2 = _item_field(GAD7_QUESTIONS[1])
    gad7_item_3 = _item_field(GAD7_QUESTIONS[2])
    gad7_item_4 = _item_field(GAD7_QUESTIONS[3])
    gad7_item_5 = _item_field(GAD7_QUESTIONS[4])
    gad7_item_6 = _item_field(GAD7_QUESTIONS[5])
    gad7_item_7 = _item_field(GAD7_QUESTIONS[6])

    class Meta:
        constraints = [
            *[models.CheckConstraint(condition=between(name, 0, 3), name=f"consult_{name}_range",
                                     violation_error_message=range_message(
                                         _item_label(name), 0, 3))
              for name in PHQ9_FIELDS + GAD7_FIELDS],
            models.CheckConstraint(
                condition=Q(panic_attacks_since_last_session__lte=PANIC_ATTACKS_MAX),
                name="consult_panic_attacks_range",
                violation_error_message=range_message("panic attacks since the last session",
                                                      0, PANIC_ATTACKS_MAX)),
        ]

    def __str__(self) -> str:
        return f"Consultation for session {self.session_id}"

    @property
    def phq9_items(self) -> list[int]:
        return [getattr(self, name) for name in PHQ9_FIELDS]

    @property
    def gad7_items(self) -> list[int]:
        return [getattr(self, name) for name in GAD7_FIELDS]

    @property
    def phq9_total(self) -> int:
        return scales.phq9_total(self.phq9_items)

    @property
    def phq9_band(self) -> scales.Band:
        return scales.phq9_band(self.phq9_total)

    @property
    def gad7_total(self) -> int:
        return scales.gad7_total(self.gad7_items)

    @property
    def gad7_band(self) -> scales.Band:
        return scales.gad7_band(self.gad7_total)

    @property
    def self_harm_flag(self) -> bool:
        return scales.phq9_self_harm_flag(self.phq9_items)


VITAL_RANGES = {
    "systolic_mmhg": (50, 300),
    "diastolic_mmhg": (20, 200),
    "heart_rate_bpm": (20, 250),
    "spo2_percent": (50, 100),
    "respiratory_rate_per_min": (4, 60),
}


VITAL_LABELS = {
    "systolic_mmhg": "systolic (mmHg)",
    "diastolic_mmhg": "diastolic (mmHg)",
    "heart_rate_bpm": "heart rate (bpm)",
    "spo2_percent": "SpO2 (%)",
    "respiratory_rate_per_min": "respiratory rate (/min)",
}


def vital_field(name: str, *, optional: bool = False) -> models.PositiveSmallIntegerField:
    """A vital-sign field whose form validation matches its database check constraint."""
    low, high = VITAL_RANGES[name]
    return models.PositiveSmallIntegerField(
        VITAL_LABELS[name], null=optional, blank=optional,
        validators=[MinValueValidator(low), MaxValueValidator(high)],
    )


def _vital_constraints(prefix: str, *, optional: tuple[str, ...]) -> list:
    checks = [
        models.CheckConstraint(
            condition=(null_or_between(name, low, high) if name in optional
                       else between(name, low, high)),
            name=f"{prefix}_{name}_range",
            violation_error_message=range_message(VITAL_LABELS[name], low, high),
        )
        for name, (low, high) in VITAL_RANGES.items()
    ]
    checks.append(models.CheckConstraint(
        condition=Q(systolic_mmhg__gt=F("diastolic_mmhg")),
        name=f"{prefix}_systolic_above_diastolic",
        violation_error_message="Systolic pressure must be above diastolic.",
    ))
    return checks


class Evaluation(StepRecord):
    happened_at_field = "measured_at"

    class Decision(models.TextChoices):
        CLEARED = "cleared", "Cleared for treatment"
        HELD = "held", "Held"

    session = models.OneToOneField(
        TreatmentSession, on_delete=models.PROTECT, related_name="evaluation",
    )
    # When the vitals below were taken, entered like every clinical time (it may be charted
    # later than it happened). NULL only in the database, for evaluations recorded before
    # the field existed: migration 0014 gave those their recorded_at.
    measured_at = models.DateTimeField("vitals taken at", null=True)
    systolic_mmhg = vital_field("systolic_mmhg")
    diastolic_mmhg = vital_field("diastolic_mmhg")
    heart_rate_bpm = vital_field("heart_rate_bpm")
    spo2_percent = vital_field("spo2_percent")
    respiratory_rate_per_min = vital_field("respiratory_rate_per_min", optional=True)
    weight_kg = models.DecimalField(
        "weight (kg)", max_digits=5, decimal_places=1,
        validators=[MinValueValidator(20), MaxValueValidator(350)],
    )
    alcohol_or_drugs_last_24h = models.BooleanField(
        "alcohol or recreational drugs in the last 24 h", default=False,
    )
    active_psychosis = models.BooleanField("active psychosis observed", default=False)
    screening_notes = models.TextField(
        blank=True, help_text="Contraindications and interactions reviewed.",
    )
    findings = models.JSONField(default=list, blank=True, editable=False,
                                help_text="Computed by the safety rules when recorded.")
    blocked = models.BooleanField(default=False, editable=False,
                                  help_text="A block finding was present.")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    override_reason = models.TextField(
        blank=True, help_text="Required to clear a patient with block findings.",
    )

    class Meta:
        constraints = [
            *_vital_constraints("evaluation", optional=("respiratory_rate_per_min",)),
            models.CheckConstraint(condition=between("weight_kg", 20, 350),
                                   name="evaluation_weight_range",
                                   violation_error_message=range_message("weight (kg)", 20, 350)),
            models.CheckConstraint(
                condition=~(Q(decision="cleared") & Q(blocked=True) & Q(override_reason="")),
                name="evaluation_blocked_clear_needs_reason",
                violation_error_message="Clearing despite block findings needs a written reason.",
            ),
        ]

    def __str__(self) -> str:
        return f"Evaluation for session {self.session_id}: {self.get_decision_display()}"

    @property
    def is_cleared(self) -> bool:
        return self.decision == self.Decision.CLEARED


class ExpectationSetting(StepRecord):
    happened_at_field = "consent_signed_at"

    session = models.OneToOneField(
        TreatmentSession, on_delete=models.PROTECT, related_name="expectation_setting",
    )
    consent_signed = models.BooleanField(default=False)
    consent_signed_at = models.DateTimeField(null=True, blank=True)
    side_effects_explained = models.BooleanField(default=False)
    plan_deep_breathing = models.BooleanField("plan: deep breathing", default=False)
    plan_grounding = models.BooleanField("plan: grounding", default=False)
    plan_tell_staff = models.BooleanField("plan: tell staff", default=False)
    anxiety_plan_notes = models.TextField("anxiety / panic plan notes", blank=True)
    transport_arranged = models.BooleanField(
        "transport home arranged (no driving)", default=False,
    )
    transport_details = models.CharField(max_length=200, blank=True,
                                         help_text="Who takes the patient home.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(consent_signed=False) | Q(consent_signed_at__isnull=False),
                name="expectations_consent_has_time",
                violation_error_message="Signed consent needs the time it was signed.",
            ),
        ]

    def __str__(self) -> str:
        return f"Expectations for session {self.session_id}"

    @property
    def anxiety_plan_discussed(self) -> bool:
        return self.plan_deep_breathing or self.plan_grounding or self.plan_tell_staff


class Administration(StepRecord):
    happened_at_field = "started_at"

    session = models.OneToOneField(
        TreatmentSession, on_delete=models.PROTECT, related_name="administration",
    )
    drug = models.CharField(max_length=20, choices=Drug.choices)
    route = models.CharField(max_length=20, choices=Route.choices)
    dose_mg = models.DecimalField("dose (mg)", max_digits=6, decimal_places=2,
                                  validators=[MinValueValidator(Decimal("0.01"))])
    weight_kg = models.DecimalField(
        "weight (kg)", max_digits=5, decimal_places=1, editable=False,
        help_text="Copied from this session's evaluation.",
    )
    dose_mg_per_kg = models.DecimalField("dose (mg/kg)", max_digits=6, decimal_places=2,
                                         editable=False)
    started_at = models.DateTimeField("first dose at")
    ended_at = models.DateTimeField("last dose / infusion end", null=True, blank=True)
    lot_number = models.CharField(max_length=40)
    administered_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    notes = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(dose_mg__gt=0), name="administration_dose_positive",
                                   violation_error_message="Enter a dose above 0 mg."),
            # A dose charted as 0.00 mg/kg (0.01 mg for 80 kg) is a typing error.
            models.CheckConstraint(condition=Q(dose_mg_per_kg__gt=0),
                                   name="administration_dose_per_kg_positive",
                                   violation_error_message="The dose is below 0.01 mg/kg at "
                                                           "this weight: check the dose in mg."),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="administration_ends_after_start",
                violation_error_message="The end of dosing cannot be before the first dose.",
            ),
            models.CheckConstraint(
                condition=~Q(drug="esketamine") | Q(route="intranasal"),
                name="administration_esketamine_intranasal",
                violation_error_message="Esketamine is given only as an intranasal spray.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_drug_display()} {self.dose_mg} mg {self.get_route_display()}"


class Monitoring(StepRecord):
    happened_at_field = "discharged_at"

    session = models.OneToOneField(
        TreatmentSession, on_delete=models.PROTECT, related_name="monitoring",
    )
    discharged_at = models.DateTimeField("end of monitoring / discharge")
    observation_minutes = models.PositiveIntegerField(
        editable=False, help_text="From the first dose to the end of monitoring.",
    )
    cadss_score = models.PositiveSmallIntegerField(
        "CADSS (0–92)", validators=[MinValueValidator(0), MaxValueValidator(92)],
    )
    moaas_score = models.PositiveSmallIntegerField(
        "MOAA/S (0–5)", validators=[MinValueValidator(0), MaxValueValidator(5)],
    )
    discharge_criteria_met = models.BooleanField(default=False)
    discharged_with = models.CharField(max_length=200, help_text="Who the patient left with.")
    discharge_notes = models.TextField(blank=True)
    rems_submitted_on = models.DateField("REMS record submitted on", null=True, blank=True)
    # Set when monitoring is recorded (the administration is frozen by then): only esketamine
    # sessions have a REMS record to submit, and the dashboard finds the unsubmitted ones
    # among every monitoring record ever kept through a partial index on this.
    rems_required = models.BooleanField("esketamine REMS record required", default=False,
                                        editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=between("cadss_score", 0, 92),
                                   name="monitoring_cadss_range",
                                   violation_error_message=range_message("CADSS", 0, 92)),
            models.CheckConstraint(condition=between("moaas_score", 0, 5),
                                   name="monitoring_moaas_range",
                                   violation_error_message=range_message("MOAA/S", 0, 5)),
            models.CheckConstraint(condition=Q(discharge_criteria_met=True),
                                   name="monitoring_discharge_criteria_met",
                                   violation_error_message="Discharge criteria must be met."),
        ]
        indexes = [
            # The dashboard's "REMS records to submit": the few unsubmitted among every
            # monitoring record ever kept, oldest discharge first.
            models.Index(fields=["discharged_at"], name="rems_unsubmitted_idx",
                         condition=Q(rems_required=True, rems_submitted_on__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"Monitoring for session {self.session_id}"


class VitalSign(models.Model):
    class Phase(models.TextChoices):
        PRE_DOSE = "pre_dose", "Before dosing"
        DURING = "during", "During treatment"
        POST_DOSE_40 = "post_dose_40", "About 40 min after dose"
        PERIODIC = "periodic", "Periodic check"
        PRE_DISCHARGE = "pre_discharge", "Before discharge"

    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT,
                                related_name="vital_signs")
    measured_at = models.DateTimeField()
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.PERIODIC)
    systolic_mmhg = vital_field("systolic_mmhg")
    diastolic_mmhg = vital_field("diastolic_mmhg")
    heart_rate_bpm = vital_field("heart_rate_bpm", optional=True)
    spo2_percent = vital_field("spo2_percent", optional=True)
    respiratory_rate_per_min = vital_field("respiratory_rate_per_min", optional=True)
    flags = models.JSONField(default=list, blank=True, editable=False,
                             help_text="Rises over baseline and low SpO2, computed when recorded.")
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    is_archived = models.BooleanField(default=False, help_text="Entered in error.")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["measured_at", "id"]
        indexes = [
            models.Index(fields=["session", "measured_at"], name="vital_session_time_idx"),
            # The admin list's default ordering; without it every page sorts all vitals.
            models.Index(fields=["measured_at", "id"], name="vital_time_idx"),
        ]
        constraints = _vital_constraints(
            "vital", optional=("heart_rate_bpm", "spo2_percent", "respiratory_rate_per_min"),
        )

    def __str__(self) -> str:
        return (f"{self.systolic_mmhg}/{self.diastolic_mmhg} at "
                f"{clinic_time_label(self.measured_at, '%H:%M')}")


class SymptomCategory(models.TextChoices):
    ACUTE = "acute", "Acute (during/after a session)"
    PANIC = "panic", "Panic / anxiety"
    WITHDRAWAL_PSYCHOLOGICAL = "withdrawal_psychological", "Withdrawal — psychological"
    WITHDRAWAL_PHYSICAL = "withdrawal_physical", "Withdrawal — physical"
    WITHDRAWAL_COGNITIVE = "withdrawal_cognitive", "Withdrawal — cognitive"
    WITHDRAWAL_SLEEP = "withdrawal_sleep", "Withdrawal — sleep"
    OTHER = "other", "Other"


class SymptomType(models.Model):
    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=100)
    category = models.CharField(max_length=30, choices=SymptomCategory.choices)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["category", "name"]
        constraints = [
            models.UniqueConstraint(fields=["category", "name"], name="symptom_unique_in_category"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_category_display()})"


class FollowUp(models.Model):
    class Kind(models.TextChoices):
        POST_SESSION = "post_session", "Post-session check-in"
        COURSE_7_DAYS = "course_7d", "7 days after course"
        COURSE_30_DAYS = "course_30d", "30 days after course"
        AD_HOC = "ad_hoc", "Ad hoc"

    class Status(models.TextChoices):
        DUE = "due", "Due"
        DONE = "done", "Done"
        MISSED = "missed", "Missed"
        CANCELLED = "cancelled", "Cancelled"

    class Method(models.TextChoices):
        PHONE = "phone", "Phone"
        VISIT = "visit", "Clinic visit"
        VIDEO = "video", "Video call"
        EMAIL = "email", "Email"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="follow_ups")
    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, null=True,
                                blank=True, related_name="follow_ups")
    course = models.ForeignKey(TreatmentCourse, on_delete=models.PROTECT, null=True,
                               blank=True, related_name="follow_ups")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DUE)
    contacted_at = models.DateTimeField(null=True, blank=True)
    method = models.CharField(max_length=10, choices=Method.choices, blank=True)
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    is_archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(fields=["patient", "due_on"], name="followup_patient_due_idx"),
            models.Index(fields=["due_on", "id"], name="followup_due_idx"),  # list ordering
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="done") | Q(contacted_at__isnull=False),
                name="followup_done_has_contact_time",
                violation_error_message="A follow-up marked done needs the contact time.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.patient} due {self.due_on}"


class SideEffectObservation(models.Model):
    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"
        LIFE_THREATENING = "life_threatening", "Life-threatening"

    class Intervention(models.TextChoices):
        NONE = "none", "None"
        REASSURANCE = "reassurance", "Reassurance"
        DEEP_BREATHING = "deep_breathing", "Deep breathing"
        GROUNDING = "grounding", "Grounding"
        INFUSION_PAUSED = "infusion_paused", "Infusion paused"
        INFUSION_STOPPED = "infusion_stopped", "Infusion stopped"
        MEDICATION_GIVEN = "medication_given", "Medication given"
        ESCALATED = "escalated", "Escalated"

    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, null=True,
                                blank=True, related_name="side_effects")
    follow_up = models.ForeignKey(FollowUp, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="side_effects")
    symptom = models.ForeignKey(SymptomType, on_delete=models.PROTECT, related_name="+")
    severity = models.CharField(max_length=20, choices=Severity.choices)
    is_serious = models.BooleanField(
        "serious adverse event", default=False,
        help_text="Hospitalisation, disability, life-threatening or otherwise medically important.",
    )
    onset_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    intervention = models.CharField(max_length=20, choices=Intervention.choices,
                                    default=Intervention.NONE)
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    signed_off_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="+")
    signed_off_at = models.DateTimeField(null=True, blank=True)
    is_archived = models.BooleanField(default=False, help_text="Entered in error.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["onset_at", "id"]
        permissions = [("sign_off_sideeffectobservation", "Can sign off serious side effects")]
        indexes = [
            models.Index(fields=["session", "onset_at"], name="sideeffect_session_idx"),
            models.Index(fields=["severity", "onset_at"], name="sideeffect_severity_idx"),
            # List ordering, and "serious side effects of the last 7 days" as a range scan.
            models.Index(fields=["onset_at", "id"], name="sideeffect_onset_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(session__isnull=False, follow_up__isnull=True)
                           | Q(session__isnull=True, follow_up__isnull=False)),
                name="sideeffect_session_xor_follow_up",
                violation_error_message="A side effect belongs to a session or to a follow-up, "
                                        "not both.",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("onset_at")),
                name="sideeffect_resolved_after_onset",
                violation_error_message="A side effect cannot resolve before its onset.",
            ),
            models.CheckConstraint(
                condition=Q(signed_off_by__isnull=True, signed_off_at__isnull=True)
                | Q(signed_off_by__isnull=False, signed_off_at__isnull=False),
                name="sideeffect_sign_off_complete",
                violation_error_message="A sign-off needs both who signed off and when.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symptom.name} ({self.get_severity_display()})"

    @property
    def needs_clinician_alert(self) -> bool:
        return self.is_serious or self.severity in (self.Severity.SEVERE,
                                                    self.Severity.LIFE_THREATENING)


class Reminder(models.Model):
    """One email to send: a row of the transactional outbox (see DESIGN.md section 4)."""

    class Kind(models.TextChoices):
        UPCOMING_SESSION = "upcoming_session", "Upcoming session"
        POST_SESSION_CHECKIN = "post_session_checkin", "Post-session check-in"
        FOLLOW_UP_CHECK = "follow_up_check", "Follow-up check"
        CLINICIAN_ALERT = "clinician_alert", "Clinician safety alert"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    cause = models.CharField(
        max_length=80, help_text="What caused it, e.g. session:12 — unique with the kind.",
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="reminders")
    recipient_user = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="Set for clinician alerts; patient reminders go to the patient.",
    )
    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, null=True,
                                blank=True, related_name="reminders")
    course = models.ForeignKey(TreatmentCourse, on_delete=models.PROTECT, null=True,
                               blank=True, related_name="reminders")
    follow_up = models.ForeignKey(FollowUp, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="reminders")
    observation = models.ForeignKey(SideEffectObservation, on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="reminders")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True,
                                      help_text="When a dispatcher claimed it (its lease).")
    attempt_started_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When a worker began the current send attempt; a second copy of the task "
                  "finds it set and stands down.",
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="reminder_status_due_idx"),
            models.Index(fields=["patient", "status"], name="reminder_patient_status_idx"),
            # A patient's newest reminders (history page), without walking everyone's.
            models.Index(fields=["patient", "due_at"], name="reminder_patient_due_idx"),
            models.Index(fields=["due_at", "id"], name="reminder_due_idx"),  # list ordering
            # The dispatcher's claim walks open rows in due order. Without this it walked
            # reminder_due_idx past every reminder ever sent: 156 ms per claim of 100 with
            # 375,000 sent rows (21 s to dispatch 10,000), 0.05 ms with it.
            models.Index(fields=["due_at", "id"], name="reminder_open_due_idx",
                         condition=Q(status__in=["pending", "sending"])),
        ]
        constraints = [
            models.UniqueConstraint(fields=["cause", "kind"], name="reminder_unique_cause_kind"),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="reminder_sent_has_time",
                violation_error_message="A sent reminder needs the time it was sent.",
            ),
        ]

    def __str__(self) -> str:
        # No cause: this label goes where its fields' permissions do not follow (breadcrumbs,
        # the admin's action log), and an alert's cause is clinical.
        return f"{self.get_kind_display()} — {self.get_status_display()}"


def _chart_value() -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(null=True, editable=False)


class SessionChangeStamp(models.Model):
    """What database triggers keep of each session (sessions.change_stamps), written in the
    same transaction as any change to the session or anything recorded for it:

    - a random stamp, replaced on every change: the key of its cached card on the history
      page;
    - its point on the history's charts (scores, CADSS, baseline and peak blood pressure),
      worked out from its rows there and then, so that a patient's charts over hundreds of
      sessions are one narrow read of this table, never a read of every session's steps and
      vitals. NULL where the session has no such value.

    Written only by the triggers, never by the app; every session has a row (migration
    0013 gave one to each session there was)."""

    session_id = models.BigIntegerField(primary_key=True)
    stamp = models.BigIntegerField()
    patient_id = models.BigIntegerField(null=True, editable=False)
    scheduled_at = models.DateTimeField(null=True, editable=False)
    is_archived = models.BooleanField(db_default=False, editable=False)
    evaluation_id = models.BigIntegerField(null=True, editable=False)  # the newest, for findings
    phq9_total = _chart_value()  # NULL until the consultation is recorded
    gad7_total = _chart_value()
    cadss_score = _chart_value()
    baseline_systolic_mmhg = _chart_value()
    baseline_diastolic_mmhg = _chart_value()
    peak_systolic_mmhg = _chart_value()
    peak_diastolic_mmhg = _chart_value()

    class Meta:
        default_permissions = ()
        indexes = [
            # A patient's chart points in timeline order (the history page).
            models.Index(fields=["patient_id", "-scheduled_at", "-session_id"],
                         name="session_stamp_patient_idx", condition=Q(is_archived=False)),
        ]

    def __str__(self) -> str:
        return f"Session {self.session_id} stamp {self.stamp}"


class PatientChangeStamp(models.Model):
    """As SessionChangeStamp, for everything of a patient's sessions at once: the key of the
    history page's cached charts and session list."""

    patient_id = models.BigIntegerField(primary_key=True)
    stamp = models.BigIntegerField()

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"Patient {self.patient_id} stamp {self.stamp}"

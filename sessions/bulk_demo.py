"""Synthetic data at clinic-network scale, written with bulk inserts.

`sessions/demo.py` walks a handful of patients through the services, one row at a time; that
is the right way to show the workflow and far too slow for 10,000 patients × 20 sessions. This
module builds the same kind of records in memory and writes them with `bulk_create`, chunk by
chunk of patients. It bypasses the services, so it reproduces their rules itself:

- steps in order; monitoring only on completed sessions; administration only after a cleared
  evaluation and signed consent; a held evaluation ends with the session cancelled;
- evaluation findings and monitoring flags computed by `sessions.safety` from the patient's
  conditions, medications and the vitals generated; dose mg/kg from the session's weight;
- at least `min_observation_minutes` of observation; severe side effects resolved before
  discharge; serious ones signed off by the responsible clinician and alerted;
- reminders unique per (cause, kind), none for patients who opted out.

Every check constraint is enforced by the database on insert anyway. Deterministic: the same
seed and anchor date give the same data (see `bulk_fingerprint`), except the auto-stamped
`created_at` / `recorded_at` columns, which are always the time of loading.
All patients are invented; their emails are at ``bulk.example.test``.
"""

from __future__ import annotations

import hashlib
import json
import operator
import random
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction

from patients.models import MRN_ALPHABET, Condition, Medication, Patient
from sessions import safety
from sessions.models import (
    Administration,
    Consultation,
    Evaluation,
    ExpectationSetting,
    FollowUp,
    Monitoring,
    Reminder,
    SideEffectObservation,
    SymptomType,
    TreatmentCourse,
    TreatmentSession,
    VitalSign,
)

BULK_EMAIL_DOMAIN = "bulk.example.test"
SESSIONS_PER_COURSE = 12
CHUNK_PATIENTS = 200
BATCH_SIZE = 2000

FIRST_NAMES = (
    "Alex", "Blair", "Cameron", "Dana", "Eden", "Farrah", "Gale", "Harper", "Indigo", "Jules",
    "Kai", "Lane", "Marlow", "Nico", "Oakley", "Parker", "Quinn", "Reese", "Sage", "Tatum",
    "Umber", "Vale", "Wren", "Yael", "Zion", "Arden", "Briar", "Corin", "Devon", "Ellis",
)
LAST_NAMES = (
    "Abernathy", "Brightwater", "Castellan", "Dunmore", "Everhart", "Fallowfield", "Greywood",
    "Hollister", "Ivesdale", "Jessop", "Kettering", "Larkspur", "Merriweather", "Northcott",
    "Oldcastle", "Pemberton", "Quarrington", "Rowntree", "Stillwater", "Thistlewood",
    "Underhill", "Vantongeren", "Whitlock", "Yarborough", "Zellweger", "Ashcombe", "Blackmore",
    "Cresswell", "Drummond", "Edgerton", "Fairbairn", "Goodfellow", "Hartigan", "Inglewood",
)
TIME_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
              "America/Phoenix", "Europe/London")
# (kind, probability); pregnancy is left out: it blocks every evaluation.
CONDITION_ODDS = (
    ("depression", 0.85), ("anxiety", 0.35), ("panic_disorder", 0.12), ("trauma_ptsd", 0.18),
    ("bipolar", 0.04), ("psychosis", 0.01), ("hypertension", 0.15), ("cardiovascular", 0.04),
    ("substance_use", 0.06), ("other", 0.05),
)
MEDICATIONS = (
    ("Sertraline", "antidepressant"), ("Escitalopram", "antidepressant"),
    ("Bupropion", "antidepressant"), ("Venlafaxine", "antidepressant"),
    ("Phenelzine", "maoi"), ("Lorazepam", "benzodiazepine"), ("Clonazepam", "benzodiazepine"),
    ("Zolpidem", "sedative"), ("Methylphenidate", "psychostimulant"), ("Tramadol", "opioid"),
    ("Lamotrigine", "lamotrigine"), ("Quetiapine", "antipsychotic"),
    ("Lithium", "mood_stabilizer"), ("Lisinopril", "antihypertensive"),
    ("Amlodipine", "antihypertensive"), ("Levothyroxine", "other"),
)
INDICATIONS = ("trd", "trd", "trd", "mdd_si", "ptsd", "anxiety")
DISCHARGED_WITH = ("Partner", "Parent", "Friend", "Sibling", "Adult child", "Rideshare arranged "
                   "by clinic with escort")
PANIC_KINDS = set(safety.PANIC_RISK_CONDITION_KINDS)


@dataclass
class BulkResult:
    patients: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0


@dataclass
class _Staff:
    clinicians: list
    nurses: list


@dataclass
class _Chunk:
    """Everything one chunk of patients will insert, in dependency order."""

    patients: list = field(default_factory=list)
    conditions: list = field(default_factory=list)
    medications: list = field(default_factory=list)
    courses: list = field(default_factory=list)
    sessions: list = field(default_factory=list)
    consultations: list = field(default_factory=list)
    evaluations: list = field(default_factory=list)
    expectations: list = field(default_factory=list)
    administrations: list = field(default_factory=list)
    monitorings: list = field(default_factory=list)
    vitals: list = field(default_factory=list)
    follow_ups: list = field(default_factory=list)
    side_effects: list = field(default_factory=list)
    # Built after the ids exist: (kind, cause-maker, fields) with model instances in fields.
    reminders: list = field(default_factory=list)

    ORDER = (
        ("patients", Patient), ("conditions", Condition), ("medications", Medication),
        ("courses", TreatmentCourse), ("sessions", TreatmentSession),
        ("consultations", Consultation), ("evaluations", Evaluation),
        ("expectations", ExpectationSetting), ("administrations", Administration),
        ("monitorings", Monitoring), ("vitals", VitalSign), ("follow_ups", FollowUp),
        ("side_effects", SideEffectObservation),
    )


def bulk_tag(seed: int) -> str:
    """What marks one generated data set: its patients' emails end in ``+<tag>@…``."""
    return f"s{seed}"


def bulk_patients(tag: str):
    return Patient.objects.filter(email__endswith=f"+{tag}@{BULK_EMAIL_DOMAIN}")


def bulk_staff() -> _Staff:
    """Synthetic clinicians and nurses who 'recorded' the bulk data (no usable password)."""
    User = get_user_model()
    groups = {name: Group.objects.get(name=name) for name in ("Clinician", "Nurse")}
    staff = _Staff(clinicians=[], nurses=[])
    for role, count, bucket in (("Clinician", 8, staff.clinicians), ("Nurse", 16, staff.nurses)):
        for number in range(1, count + 1):
            username = f"bulk-{role.lower()}-{number:02d}"
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": role, "last_name": f"Synthetic {number:02d}",
                          "email": f"{username}@{BULK_EMAIL_DOMAIN}", "is_staff": True},
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
                user.groups.add(groups[role])
            bucket.append(user)
    return staff


class _Generator:
    def __init__(self, *, seed: int, anchor: date, staff: _Staff, symptoms: dict, tag: str):
        self.rng = random.Random(seed)
        self.anchor = anchor
        self.zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        self.now = self._at(anchor, 12, 0)  # "now" for what is due, sent or still pending
        self.staff = staff
        self.symptoms = symptoms
        self.tag = tag
        self.thresholds = safety.Thresholds.from_settings()
        self.mrns: set[str] = set()
        self.patient_number = 0

    # --- small helpers ----------------------------------------------------------------------
    def _at(self, day: date, hour: int, minute: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone)

    def _chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def _mrn(self) -> str:
        while True:
            mrn = "MRN-" + "".join(self.rng.choice(MRN_ALPHABET) for _ in range(8))
            if mrn not in self.mrns:
                self.mrns.add(mrn)
                return mrn

    def _symptom(self, category: str, name: str):
        return self.symptoms[(category, name)]

    # --- one patient ------------------------------------------------------------------------
    def patient(self, chunk: _Chunk, sessions_per_patient: int) -> None:
        rng = self.rng
        self.patient_number += 1
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        born = date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28))
        patient = Patient(
            mrn=self._mrn(), first_name=first, last_name=last, date_of_birth=born,
            sex=rng.choice(("female", "male", "female", "male", "intersex", "unknown")),
            email=f"{first.lower()}.{last.lower()}.{self.patient_number}+{self.tag}"
                  f"@{BULK_EMAIL_DOMAIN}",
            phone=f"+1 555 01{rng.randint(0, 99):02d}",
            time_zone=rng.choice(TIME_ZONES), reminders_opt_in=self._chance(0.92),
            emergency_contact_name="Synthetic Contact", emergency_contact_phone="+1 555 0199",
        )
        chunk.patients.append(patient)
        kinds = [kind for kind, odds in CONDITION_ODDS if self._chance(odds)] or ["depression"]
        for kind in kinds:
            chunk.conditions.append(Condition(
                patient=patient, kind=kind,
                diagnosed_on=born + timedelta(days=rng.randint(18 * 365, 40 * 365)),
            ))
        medications = rng.sample(MEDICATIONS, k=rng.choice((0, 1, 1, 2, 2, 3)))
        facts = []
        for name, drug_class in medications:
            started_on = self.anchor - timedelta(days=rng.randint(60, 2000))
            changed_on = (self.anchor - timedelta(days=rng.randint(5, 400))
                          if drug_class in safety.ANTIDEPRESSANT_CLASSES and self._chance(0.5)
                          else None)
            chunk.medications.append(Medication(
                patient=patient, name=name, drug_class=drug_class, dose="As prescribed",
                started_on=started_on, changed_on=changed_on,
            ))
            facts.append(safety.MedicationFact(name=name, drug_class=drug_class,
                                               started_on=started_on, changed_on=changed_on))
        profile = _Profile(
            patient=patient, kinds=kinds, medications=facts,
            clinician=rng.choice(self.staff.clinicians),
            systolic=rng.randint(108, 142) + (8 if "hypertension" in kinds else 0),
            diastolic=rng.randint(66, 86), heart_rate=rng.randint(58, 90),
            weight=Decimal(rng.randint(480, 1250)) / 10,
            drug=rng.choice(("ketamine", "ketamine", "esketamine")),
        )
        self._treatment(chunk, profile, sessions_per_patient)

    def _treatment(self, chunk: _Chunk, profile: _Profile, count: int) -> None:
        """Courses of up to SESSIONS_PER_COURSE sessions; the last session is in the future
        (most patients), today in progress, or long past (the last course completed)."""
        rng = self.rng
        ending = rng.choices(("upcoming", "today", "finished"), weights=(70, 5, 25))[0]
        last_day = {"upcoming": self.anchor + timedelta(days=rng.randint(0, 10)),
                    "today": self.anchor,
                    "finished": self.anchor - timedelta(days=rng.randint(2, 120))}[ending]
        days = [last_day]
        for index in range(count - 1, 0, -1):  # the gap before session `index`
            position = index % SESSIONS_PER_COURSE
            gap = (rng.randint(28, 60) if position == 0
                   else rng.choice((2, 3, 4)) if position < 6 else 7)
            days.append(days[-1] - timedelta(days=gap))
        days.reverse()
        hour, minute = rng.randint(8, 15), rng.choice((0, 15, 30, 45))
        course_count = -(-count // SESSIONS_PER_COURSE)
        for course_index in range(course_count):
            course_days = days[course_index * SESSIONS_PER_COURSE:
                               (course_index + 1) * SESSIONS_PER_COURSE]
            is_last_course = course_index == course_count - 1
            finished = not is_last_course or ending == "finished"
            course = TreatmentCourse(
                patient=profile.patient, indication=rng.choice(INDICATIONS), drug=profile.drug,
                planned_sessions=len(course_days) if finished else SESSIONS_PER_COURSE,
                status="completed" if finished else "active",
                responsible_clinician=profile.clinician,
                started_on=course_days[0] - timedelta(days=rng.randint(0, 7)),
                ended_on=course_days[-1] if finished else None,
            )
            chunk.courses.append(course)
            for day in course_days:
                scheduled_at = self._at(day, hour, minute)
                if day > self.anchor or (day == self.anchor and ending == "upcoming"):
                    state = "scheduled"
                elif day == self.anchor:
                    state = "in_progress"
                else:
                    state = rng.choices(("completed", "cancelled", "no_show", "held"),
                                        weights=(93, 3, 2, 2))[0]
                self._session(chunk, profile, course, scheduled_at, state)
            if finished:
                self._course_follow_ups(chunk, profile, course)

    # --- one session ------------------------------------------------------------------------
    def _session(self, chunk: _Chunk, profile: _Profile, course, scheduled_at: datetime,
                 state: str) -> None:
        rng = self.rng
        session = TreatmentSession(
            patient=profile.patient, course=course, clinician=profile.clinician,
            scheduled_at=scheduled_at, status="scheduled",
        )
        chunk.sessions.append(session)
        patient_reminders = profile.patient.reminders_opt_in
        upcoming_due = scheduled_at - timedelta(hours=24)
        if state == "scheduled":
            if patient_reminders:
                self._reminder(chunk, "upcoming_session", profile, due_at=upcoming_due,
                               session=session)
            return
        if state in ("cancelled", "no_show"):
            session.status = state
            if state == "cancelled":
                session.cancelled_at = scheduled_at - timedelta(hours=rng.randint(2, 72))
                session.cancellation_reason = "Patient asked to reschedule."
            else:
                session.cancelled_at = scheduled_at + timedelta(minutes=30)
                session.cancellation_reason = "Patient did not attend."
            if patient_reminders:
                self._reminder(chunk, "upcoming_session", profile, due_at=upcoming_due,
                               session=session, cancelled=session.cancelled_at < upcoming_due)
            return
        if patient_reminders:
            self._reminder(chunk, "upcoming_session", profile, due_at=upcoming_due,
                           session=session)
        nurse = rng.choice(self.staff.nurses)
        session.status = "in_progress"
        session.started_at = scheduled_at + timedelta(minutes=rng.randint(0, 10))
        steps = (rng.randint(1, 4) if state == "in_progress" else 5)
        self._consultation(chunk, session, nurse, profile)
        if steps < 2:
            return
        evaluation = self._evaluation(chunk, session, profile, force_block=state == "held")
        if evaluation.decision != "cleared":
            session.status = "cancelled"
            session.cancelled_at = session.started_at + timedelta(minutes=25)
            session.cancellation_reason = "Held at medical evaluation."
            return
        if steps < 3:
            return
        chunk.expectations.append(ExpectationSetting(
            session=session, recorded_by=nurse, consent_signed=True,
            consent_signed_at=session.started_at + timedelta(minutes=20),
            side_effects_explained=True, plan_deep_breathing=True,
            plan_grounding=self._chance(0.6), plan_tell_staff=True,
            transport_arranged=True, transport_details=rng.choice(DISCHARGED_WITH) + " drives.",
        ))
        if steps < 4:
            return
        first_dose = session.started_at + timedelta(minutes=30)
        administration = self._administration(chunk, session, nurse, profile, evaluation,
                                              first_dose)
        if state == "in_progress":
            # Only the vitals already due by "now": the pre-dose and, maybe, the 40-minute one.
            self._vital(chunk, session, nurse, first_dose - timedelta(minutes=5), "pre_dose",
                        profile.baseline(evaluation, rng), None)
            return
        observation_minutes = rng.randint(self.thresholds.min_observation_minutes,
                                          self.thresholds.min_observation_minutes + 40)
        discharged_at = first_dose + timedelta(minutes=observation_minutes)
        flagged = self._vitals_series(chunk, session, nurse, profile, evaluation,
                                      administration, discharged_at)
        self._session_side_effects(chunk, session, nurse, profile, first_dose, discharged_at,
                                   flagged)
        chunk.monitorings.append(Monitoring(
            session=session, recorded_by=nurse, discharged_at=discharged_at,
            observation_minutes=safety.observation_minutes(first_dose, discharged_at),
            cadss_score=rng.choice((0, 2, 4, 6, 8, 10, 12, 16, 20, 28, 36)),
            moaas_score=rng.choices((5, 4, 3), weights=(80, 17, 3))[0],
            discharge_criteria_met=True, discharged_with=rng.choice(DISCHARGED_WITH),
            discharge_notes="Alert, steady gait.", rems_required=profile.drug == "esketamine",
            rems_submitted_on=(discharged_at.date() + timedelta(days=rng.randint(0, 6))
                               if profile.drug == "esketamine"
                               and discharged_at < self.now - timedelta(days=7) else None),
        ))
        session.status = "completed"
        session.completed_at = discharged_at + timedelta(minutes=2)
        if patient_reminders:
            self._reminder(chunk, "post_session_checkin", profile,
                           due_at=session.completed_at + timedelta(hours=24), session=session)
        if self._chance(0.2):
            self._follow_up(chunk, profile, "post_session", session.completed_at.date()
                            + timedelta(days=1), session=session)

    def _consultation(self, chunk, session, nurse, profile: _Profile) -> None:
        rng = self.rng
        # Scores improve over a patient's treatment, with noise.
        level = max(0.2, 2.4 - 0.12 * profile.sessions_done)
        profile.sessions_done += 1
        phq9 = [min(3, max(0, round(rng.gauss(level, 0.8)))) for _ in range(9)]
        phq9[8] = 1 if self._chance(0.03) else 0
        gad7 = [min(3, max(0, round(rng.gauss(level * 0.8, 0.8)))) for _ in range(7)]
        panic = bool(PANIC_KINDS.intersection(profile.kinds))
        chunk.consultations.append(Consultation(
            session=session, recorded_by=nurse,
            mental_health_history="Synthetic history: " + ", ".join(profile.kinds) + ".",
            current_symptoms=rng.choice(("Low mood, poor sleep.", "Improving mood.",
                                         "Anxious this week.", "Stable since last session.")),
            panic_concerns=panic and self._chance(0.5),
            panic_attacks_since_last_session=rng.choice((0, 0, 0, 1, 2)) if panic else 0,
            **{f"phq9_item_{n}": value for n, value in enumerate(phq9, start=1)},
            **{f"gad7_item_{n}": value for n, value in enumerate(gad7, start=1)},
        ))

    def _evaluation(self, chunk, session, profile: _Profile, *, force_block: bool):
        rng = self.rng
        clinician = profile.clinician
        systolic = profile.systolic + rng.randint(-8, 10)
        diastolic = min(systolic - 20, profile.diastolic + rng.randint(-6, 8))
        alcohol = False
        if force_block:
            if self._chance(0.5):
                systolic, diastolic = rng.randint(162, 178), rng.randint(96, 108)
            else:
                alcohol = True
        vitals = safety.Vitals(systolic_mmhg=systolic, diastolic_mmhg=diastolic,
                               heart_rate_bpm=profile.heart_rate + rng.randint(-6, 12),
                               spo2_percent=rng.randint(95, 100))
        weight = profile.weight + Decimal(rng.randint(-10, 10)) / 10
        findings = safety.evaluation_findings(
            vitals=vitals, condition_kinds=profile.kinds, medications=profile.medications,
            alcohol_or_drugs_last_24h=alcohol, active_psychosis=False,
            today=session.scheduled_at.astimezone(self.zone).date(), thresholds=self.thresholds,
        )
        blocked = safety.has_block(findings)
        decision, reason = "cleared", ""
        if blocked:
            if not force_block and self._chance(0.3):
                reason = "Repeat reading after rest acceptable; clinician reviewed and cleared."
            else:
                decision = "held"
        evaluation = Evaluation(
            session=session, recorded_by=clinician,
            measured_at=session.started_at + timedelta(minutes=10),
            systolic_mmhg=vitals.systolic_mmhg,
            diastolic_mmhg=vitals.diastolic_mmhg, heart_rate_bpm=vitals.heart_rate_bpm,
            spo2_percent=vitals.spo2_percent, respiratory_rate_per_min=rng.randint(12, 18),
            weight_kg=weight, alcohol_or_drugs_last_24h=alcohol, active_psychosis=False,
            screening_notes="Contraindications and interactions reviewed.",
            findings=[finding.as_dict() for finding in findings], blocked=blocked,
            decision=decision, override_reason=reason,
        )
        chunk.evaluations.append(evaluation)
        return evaluation

    def _administration(self, chunk, session, nurse, profile: _Profile, evaluation,
                        first_dose: datetime):
        rng = self.rng
        if profile.drug == "esketamine":
            route, dose = "intranasal", Decimal(rng.choice((56, 84)))
            ended_at = first_dose + timedelta(minutes=10)
        else:
            route = rng.choices(("iv", "im", "oral"), weights=(85, 10, 5))[0]
            per_kg = Decimal(rng.choice((50, 50, 60, 75, 100))) / 100
            dose = (evaluation.weight_kg * per_kg).quantize(Decimal("0.01"))
            ended_at = first_dose + timedelta(minutes=40 if route == "iv" else 1)
        administration = Administration(
            session=session, recorded_by=nurse, drug=profile.drug, route=route, dose_mg=dose,
            weight_kg=evaluation.weight_kg,
            dose_mg_per_kg=safety.dose_mg_per_kg(dose, evaluation.weight_kg),
            started_at=first_dose, ended_at=ended_at,
            lot_number=f"LOT-{rng.randint(1000, 9999)}", administered_by=nurse,
        )
        chunk.administrations.append(administration)
        return administration

    def _vital(self, chunk, session, nurse, measured_at, phase, reading: safety.Vitals,
               baseline: safety.Vitals | None) -> list[safety.Finding]:
        flags = ([] if baseline is None else
                 safety.monitoring_flags(baseline=baseline, reading=reading,
                                         thresholds=self.thresholds))
        chunk.vitals.append(VitalSign(
            session=session, recorded_by=nurse, measured_at=measured_at, phase=phase,
            systolic_mmhg=reading.systolic_mmhg, diastolic_mmhg=reading.diastolic_mmhg,
            heart_rate_bpm=reading.heart_rate_bpm, spo2_percent=reading.spo2_percent,
            respiratory_rate_per_min=self.rng.randint(12, 18),
            flags=[flag.as_dict() for flag in flags],
        ))
        return flags

    def _vitals_series(self, chunk, session, nurse, profile, evaluation, administration,
                       discharged_at) -> bool:
        """Before dosing, during an IV infusion every 15 min, about 40 min after the dose,
        periodic checks, before discharge. Returns whether any reading was flagged."""
        rng = self.rng
        first_dose = administration.started_at
        baseline = profile.baseline(evaluation, rng)
        self._vital(chunk, session, nurse, first_dose - timedelta(minutes=5), "pre_dose",
                    baseline, None)
        peak_rise = rng.randint(42, 55) if self._chance(0.04) else rng.randint(5, 25)
        offsets = [(15, "during"), (30, "during")] if administration.route == "iv" else []
        offsets += [(40, "post_dose_40"), (60, "periodic"), (90, "periodic")]
        observed = (discharged_at - first_dose) // timedelta(minutes=1)
        offsets.append((observed - 5, "pre_discharge"))
        flagged = False
        low_spo2 = self._chance(0.01)
        for minutes, phase in offsets:
            # Blood pressure peaks around 40 minutes, then settles back towards baseline.
            share = max(0.0, 1 - abs(minutes - 40) / 80)
            systolic = baseline.systolic_mmhg + round(peak_rise * share) + rng.randint(-3, 3)
            diastolic = baseline.diastolic_mmhg + round(peak_rise * 0.5 * share) \
                + rng.randint(-2, 2)
            reading = safety.Vitals(
                systolic_mmhg=systolic, diastolic_mmhg=min(diastolic, systolic - 15),
                heart_rate_bpm=min(150, baseline.heart_rate_bpm + round(12 * share)
                                   + rng.randint(-4, 4)),
                spo2_percent=(rng.randint(89, 91) if low_spo2 and phase == "post_dose_40"
                              else rng.randint(94, 100)),
            )
            flags = self._vital(chunk, session, nurse, first_dose + timedelta(minutes=minutes),
                                phase, reading, baseline)
            flagged = flagged or bool(flags)
        return flagged

    def _session_side_effects(self, chunk, session, nurse, profile: _Profile, first_dose,
                              discharged_at, flagged: bool) -> None:
        rng = self.rng
        observed = []
        if self._chance(0.55):
            observed.append(("acute", "Dissociation", rng.choice(("mild", "mild", "moderate")),
                             rng.choice(("none", "reassurance"))))
        if self._chance(0.12):
            observed.append(("acute", "Nausea", "mild",
                             rng.choice(("none", "medication_given"))))
        if self._chance(0.08):
            observed.append(("acute", rng.choice(("Headache", "Dizziness",
                                                  "Visual disturbances")), "mild", "none"))
        if flagged:
            observed.append(("acute", "Raised blood pressure", "moderate", "infusion_paused"))
        if PANIC_KINDS.intersection(profile.kinds) and self._chance(0.2):
            observed.append(("panic", rng.choice(("Panic attack", "Heightened anxiety")),
                             "moderate", rng.choice(("deep_breathing", "grounding"))))
        serious = self._chance(0.003)
        if serious:
            observed.append(("acute", rng.choice(("Raised blood pressure", "Confusion or "
                                                  "impaired judgment")), "severe", "escalated"))
        for category, name, severity, intervention in observed:
            onset = first_dose + timedelta(minutes=rng.randint(5, 45))
            # Monitoring closes only once every severe side effect has resolved.
            resolved = min(discharged_at, onset + timedelta(minutes=rng.randint(10, 60)))
            is_serious = severity == "severe"
            observation = SideEffectObservation(
                session=session, symptom=self._symptom(category, name), severity=severity,
                is_serious=is_serious, onset_at=onset, resolved_at=resolved,
                intervention=intervention, recorded_by=nurse,
            )
            if is_serious:
                self._sign_off_and_alert(chunk, observation, profile, onset)
            chunk.side_effects.append(observation)

    def _sign_off_and_alert(self, chunk, observation, profile: _Profile, onset) -> None:
        observation.notes = "Clinician informed at once."
        observation.signed_off_by = profile.clinician
        observation.signed_off_at = onset + timedelta(hours=self.rng.randint(2, 30))
        self._reminder(chunk, "clinician_alert", profile, due_at=onset,
                       observation=observation, recipient_user=profile.clinician)

    # --- follow-ups ------------------------------------------------------------------------
    def _course_follow_ups(self, chunk, profile: _Profile, course) -> None:
        for kind, days in (("course_7d", 7), ("course_30d", 30)):
            follow_up = self._follow_up(chunk, profile, kind,
                                        course.ended_on + timedelta(days=days), course=course)
            if profile.patient.reminders_opt_in:
                self._reminder(chunk, "follow_up_check", profile,
                               due_at=self._at(follow_up.due_on, 9, 0), follow_up=follow_up)

    def _follow_up(self, chunk, profile: _Profile, kind: str, due_on: date, *, session=None,
                   course=None):
        rng = self.rng
        follow_up = FollowUp(patient=profile.patient, session=session, course=course, kind=kind,
                             due_on=due_on, status="due")
        if due_on < self.anchor:
            follow_up.recorded_by = rng.choice(self.staff.nurses)
            if self._chance(0.85):
                follow_up.status = "done"
                follow_up.contacted_at = self._at(due_on, rng.randint(9, 16),
                                                  rng.choice((0, 20, 40)))
                follow_up.method = rng.choice(("phone", "phone", "video", "visit"))
                follow_up.notes = "Check-in completed."
                if kind != "post_session" and self._chance(0.3):
                    self._withdrawal_symptoms(chunk, profile, follow_up)
            else:
                follow_up.status = "missed"
                follow_up.notes = "No answer after two calls."
        chunk.follow_ups.append(follow_up)
        return follow_up

    def _withdrawal_symptoms(self, chunk, profile: _Profile, follow_up) -> None:
        rng = self.rng
        candidates = [key for key in self.symptoms if key[0].startswith("withdrawal_")
                      or key == ("other", "Cravings")]
        for category, name in rng.sample(candidates, k=rng.choice((1, 1, 2))):
            serious = self._chance(0.03)
            onset = follow_up.contacted_at - timedelta(days=rng.randint(1, 10))
            observation = SideEffectObservation(
                follow_up=follow_up, symptom=self._symptom(category, name),
                severity="severe" if serious else rng.choice(("mild", "moderate")),
                is_serious=serious, onset_at=onset,
                resolved_at=None if self._chance(0.4) else onset + timedelta(days=2),
                intervention=rng.choice(("none", "reassurance", "escalated")),
                recorded_by=follow_up.recorded_by,
            )
            if serious:
                self._sign_off_and_alert(chunk, observation, profile, follow_up.contacted_at)
            chunk.side_effects.append(observation)

    # --- reminders --------------------------------------------------------------------------
    def _reminder(self, chunk, kind: str, profile: _Profile, *, due_at: datetime,
                  cancelled: bool = False, **links) -> None:
        """Past due: sent (a few failed); future: pending. Ids are filled in at insert."""
        rng = self.rng
        reminder = Reminder(kind=kind, patient=profile.patient, due_at=due_at, **links)
        if cancelled:
            reminder.status = "cancelled"
        elif due_at <= self.now:
            reminder.claimed_at = due_at + timedelta(seconds=rng.randint(5, 60))
            if self._chance(0.005):
                reminder.status, reminder.attempts = "failed", 5
                reminder.last_error = "SMTP 550 5.1.1 mailbox unavailable"
            else:
                reminder.status, reminder.attempts = "sent", 1
                reminder.sent_at = reminder.claimed_at + timedelta(seconds=rng.randint(1, 30))
        chunk.reminders.append(reminder)


@dataclass
class _Profile:
    """What stays the same for a patient across sessions (baseline vitals, weight, drug)."""

    patient: Patient
    kinds: list
    medications: list
    clinician: object
    systolic: int
    diastolic: int
    heart_rate: int
    weight: Decimal
    drug: str
    sessions_done: int = 0

    def baseline(self, evaluation, rng) -> safety.Vitals:
        return safety.Vitals(
            systolic_mmhg=evaluation.systolic_mmhg + rng.randint(-4, 4),
            diastolic_mmhg=min(evaluation.diastolic_mmhg + rng.randint(-3, 3),
                               evaluation.systolic_mmhg - 24),
            heart_rate_bpm=evaluation.heart_rate_bpm, spo2_percent=evaluation.spo2_percent,
        )


def _reminder_cause(reminder: Reminder) -> str:
    for prefix, attribute in (("observation", "observation"), ("follow_up", "follow_up"),
                              ("session", "session")):
        linked = getattr(reminder, attribute)
        if linked is not None:
            return f"{prefix}:{linked.pk}"
    raise ValueError("A reminder needs a cause.")


def _value_getter(field, now: datetime) -> Callable:
    """How COPY reads one column from an instance (what bulk_create's compiler would do)."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda obj: now
    if field.is_relation:
        attname = field.attname

        def related_id(obj):
            value = getattr(obj, attname)
            if value is None and field.is_cached(obj):
                related = field.get_cached_value(obj)
                value = None if related is None else related.pk
            return value
        return related_id
    if field.get_internal_type() == "JSONField":
        return lambda obj: json.dumps(getattr(obj, field.attname))
    return operator.attrgetter(field.attname)


def _copy_insert(model, objects: list, now: datetime) -> None:
    """PostgreSQL: take ids from the table's sequence, then stream the rows with COPY (fewer
    round trips and no SQL compiling than bulk_create). Constraints are checked all the same."""
    meta = model._meta
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                       "FROM generate_series(1, %s)", [meta.db_table, meta.pk.column,
                                                       len(objects)])
        for obj, (pk,) in zip(objects, cursor.fetchall(), strict=True):
            obj.pk = pk
            obj._state.adding, obj._state.db = False, connection.alias
        fields = meta.concrete_fields
        getters = [_value_getter(field, now) for field in fields]
        columns = ", ".join(quote(field.column) for field in fields)
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row([getter(obj) for getter in getters])


def _insert(chunk: _Chunk, rows: dict[str, int]) -> None:
    use_copy = connection.vendor == "postgresql"
    from django.utils import timezone

    now = timezone.now()
    for reminder in chunk.reminders:
        reminder.cause = ""  # set below, once the rows it points at have ids
    for name, model in (*_Chunk.ORDER, ("reminders", Reminder)):
        objects = getattr(chunk, name)
        if name == "reminders":
            for reminder in objects:
                reminder.cause = _reminder_cause(reminder)
        if objects and use_copy:
            _copy_insert(model, objects, now)
        elif objects:
            model.objects.bulk_create(objects, batch_size=BATCH_SIZE)
        rows[name] = rows.get(name, 0) + len(objects)


def bulk_seed(*, patients: int, sessions_per_patient: int, seed: int = 1,
              anchor: date | None = None, tag: str | None = None,
              chunk_patients: int = CHUNK_PATIENTS,
              progress: Callable[[int, BulkResult], None] | None = None) -> BulkResult:
    """Generate `patients` synthetic patients with `sessions_per_patient` sessions each.

    All in one transaction: an interrupted load leaves nothing behind. Refuses (ValueError) to
    load a tag (by default one per seed) that is already present, so a re-run cannot
    half-duplicate a data set.
    """
    if patients < 1 or sessions_per_patient < 1:
        raise ValueError("--patients and --sessions-per-patient must be at least 1.")
    from django.utils import timezone

    tag = tag or bulk_tag(seed)
    anchor = anchor or timezone.localdate()
    started = time.perf_counter()
    result = BulkResult(patients=patients)
    with transaction.atomic():
        if bulk_patients(tag).exists():
            raise ValueError(
                f"Bulk data tagged {tag!r} is already loaded; use another --seed or a fresh "
                "database."
            )
        symptoms = {(s.category, s.name): s for s in SymptomType.objects.all()}
        generator = _Generator(seed=seed, anchor=anchor, staff=bulk_staff(), symptoms=symptoms,
                               tag=tag)
        generator.mrns.update(Patient.objects.values_list("mrn", flat=True))
        done = 0
        while done < patients:
            chunk = _Chunk()
            for _ in range(min(chunk_patients, patients - done)):
                generator.patient(chunk, sessions_per_patient)
            _insert(chunk, result.rows)
            done += len(chunk.patients)
            result.seconds = time.perf_counter() - started
            if progress:
                progress(done, result)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Fresh statistics, or the planner guesses; and, where it may run (not inside a
            # transaction), VACUUM: it merges the rows COPY left in the trigram indexes'
            # pending lists, without which the planner priced a patient search above reading
            # every patient (9 ms against 1), and marks pages all-visible for index-only
            # scans, as autovacuum would have by the time a clinic opened the data.
            cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")
    result.seconds = time.perf_counter() - started
    return result


def bulk_fingerprint(tag: str) -> str:
    """A hash of a generated data set's content, ids and load-time stamps left out, so two
    loads of the same seed and anchor can be compared across databases and runs."""
    patient_filter = {"patient__in": bulk_patients(tag)}
    session_filter = {"session__patient__in": bulk_patients(tag)}
    session_key = ("session__patient__mrn", "session__scheduled_at")
    queries = [
        bulk_patients(tag).values_list("mrn", "first_name", "last_name", "date_of_birth",
                                       "sex", "email", "time_zone", "reminders_opt_in"),
        Condition.objects.filter(**patient_filter).values_list("patient__mrn", "kind",
                                                               "diagnosed_on"),
        Medication.objects.filter(**patient_filter).values_list(
            "patient__mrn", "name", "drug_class", "started_on", "changed_on"),
        TreatmentCourse.objects.filter(**patient_filter).values_list(
            "patient__mrn", "drug", "indication", "status", "planned_sessions", "started_on",
            "ended_on", "responsible_clinician__username"),
        TreatmentSession.objects.filter(**patient_filter).values_list(
            "patient__mrn", "scheduled_at", "status", "started_at", "completed_at",
            "cancelled_at", "course__started_on"),
        Consultation.objects.filter(**session_filter).values_list(
            *session_key, "phq9_item_1", "phq9_item_5", "phq9_item_9", "gad7_item_1",
            "gad7_item_7", "panic_attacks_since_last_session"),
        Evaluation.objects.filter(**session_filter).values_list(
            *session_key, "systolic_mmhg", "diastolic_mmhg", "heart_rate_bpm", "weight_kg",
            "findings", "blocked", "decision"),
        ExpectationSetting.objects.filter(**session_filter).values_list(
            *session_key, "consent_signed_at", "transport_details"),
        Administration.objects.filter(**session_filter).values_list(
            *session_key, "drug", "route", "dose_mg", "dose_mg_per_kg", "started_at",
            "lot_number"),
        Monitoring.objects.filter(**session_filter).values_list(
            *session_key, "discharged_at", "observation_minutes", "cadss_score", "moaas_score",
            "rems_submitted_on"),
        VitalSign.objects.filter(**session_filter).values_list(
            *session_key, "measured_at", "phase", "systolic_mmhg", "diastolic_mmhg",
            "heart_rate_bpm", "spo2_percent", "flags"),
        FollowUp.objects.filter(**patient_filter).values_list(
            "patient__mrn", "kind", "due_on", "status", "contacted_at"),
        SideEffectObservation.objects.filter(session__patient__in=bulk_patients(tag))
        .values_list(*session_key, "symptom__code", "severity", "is_serious", "onset_at",
                     "resolved_at", "signed_off_at"),
        SideEffectObservation.objects.filter(follow_up__patient__in=bulk_patients(tag))
        .values_list("follow_up__patient__mrn", "follow_up__due_on", "symptom__code",
                     "severity", "is_serious", "onset_at", "resolved_at"),
        Reminder.objects.filter(**patient_filter).values_list(
            "patient__mrn", "kind", "due_at", "status", "sent_at", "attempts"),
    ]
    digest = hashlib.sha256()
    for query in queries:
        for row in sorted(repr(tuple(row)) for row in query.order_by()):
            digest.update(row.encode())
        digest.update(b"|")
    return digest.hexdigest()

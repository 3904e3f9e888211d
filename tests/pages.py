"""Data builders for the clinician-page tests (views and browser). All patients synthetic."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from sessions import services
from sessions.models import (
    Administration,
    Consultation,
    Evaluation,
    ExpectationSetting,
    Monitoring,
    SideEffectObservation,
    TreatmentSession,
    VitalSign,
)
from tests.factories import monitoring_data, symptom


def complete_session(session, *, advance, nurse, first_dose_minutes_ago=150, drug="ketamine",
                     before_discharge=None, **overrides):
    """Walk a session through all five steps with the services, with vitals and a side effect.

    `before_discharge(session, first_dose_at)`, when given, records more while it is open."""
    started_at = timezone.now() - timedelta(minutes=first_dose_minutes_ago)
    administration = {"started_at": started_at, "drug": drug}
    if drug == "esketamine":
        administration.update(route="intranasal", dose_mg=Decimal("56"))
    administration.update(overrides.pop("administration", {}))
    advance(session, through="administration", administration=administration, **overrides)
    for minutes, phase, systolic in ((-5, VitalSign.Phase.PRE_DOSE, 126),
                                     (40, VitalSign.Phase.POST_DOSE_40, 150),
                                     (125, VitalSign.Phase.PRE_DISCHARGE, 128)):
        services.vital_sign_record(session=session, recorded_by=nurse,
                                   measured_at=started_at + timedelta(minutes=minutes),
                                   phase=phase, systolic_mmhg=systolic, diastolic_mmhg=82,
                                   heart_rate_bpm=80, spo2_percent=97)
    services.side_effect_record(session=session, recorded_by=nurse,
                                symptom=symptom("Nausea"), severity="moderate",
                                onset_at=started_at + timedelta(minutes=20),
                                resolved_at=started_at + timedelta(minutes=50),
                                intervention="medication_given")
    if before_discharge is not None:
        before_discharge(session, started_at)
    services.monitoring_record(session=session, recorded_by=nurse,
                               **monitoring_data(discharged_at=started_at
                                                 + timedelta(minutes=130)))
    session.refresh_from_db()
    return session


def bulk_history(*, course, user, count: int) -> None:
    """`count` completed sessions with all five steps, four vitals and two side effects each.

    Written with bulk_create (not the services) so 500 sessions take seconds; the rows are the
    same the services write.
    """
    now = timezone.now()
    sessions = TreatmentSession.objects.bulk_create([
        TreatmentSession(patient=course.patient, course=course, clinician=user,
                         scheduled_at=now - timedelta(days=7 * (i + 1)),
                         status=TreatmentSession.Status.COMPLETED,
                         started_at=now - timedelta(days=7 * (i + 1)),
                         completed_at=now - timedelta(days=7 * (i + 1)) + timedelta(hours=3))
        for i in range(count)
    ])
    item = {f"phq9_item_{n}": (n + 1) % 4 for n in range(1, 10)} | {"phq9_item_9": 0}
    item |= {f"gad7_item_{n}": n % 4 for n in range(1, 8)}
    Consultation.objects.bulk_create([Consultation(session=s, recorded_by=user, **item)
                                      for s in sessions])
    Evaluation.objects.bulk_create([
        Evaluation(session=s, recorded_by=user, systolic_mmhg=120 + i % 20, diastolic_mmhg=80,
                   heart_rate_bpm=70, spo2_percent=98, weight_kg=Decimal("80.0"),
                   decision="cleared", findings=[{"code": "panic_risk", "level": "warn",
                                                  "message": "Synthetic warning."}])
        for i, s in enumerate(sessions)])
    ExpectationSetting.objects.bulk_create([
        ExpectationSetting(session=s, recorded_by=user, consent_signed=True,
                           consent_signed_at=s.started_at, transport_arranged=True)
        for s in sessions])
    Administration.objects.bulk_create([
        Administration(session=s, recorded_by=user, administered_by=user, drug=course.drug,
                       route="iv", dose_mg=Decimal("40"), weight_kg=Decimal("80.0"),
                       dose_mg_per_kg=Decimal("0.50"), started_at=s.started_at,
                       lot_number=f"LOT-{i}")
        for i, s in enumerate(sessions)])
    Monitoring.objects.bulk_create([
        Monitoring(session=s, recorded_by=user, discharged_at=s.started_at + timedelta(hours=2,
                                                                                      minutes=5),
                   observation_minutes=125, cadss_score=10 + i % 15, moaas_score=5,
                   discharge_criteria_met=True, discharged_with="Partner")
        for i, s in enumerate(sessions)])
    VitalSign.objects.bulk_create([
        VitalSign(session=s, recorded_by=user, measured_at=s.started_at + timedelta(minutes=m),
                  phase=phase, systolic_mmhg=systolic, diastolic_mmhg=84)
        for s in sessions
        for m, phase, systolic in ((-5, "pre_dose", 124), (40, "post_dose_40", 148),
                                   (90, "periodic", 136), (124, "pre_discharge", 126))])
    nausea, dissociation = symptom("Nausea"), symptom("Dissociation")
    SideEffectObservation.objects.bulk_create([
        SideEffectObservation(session=s, recorded_by=user, symptom=sym, severity="mild",
                              onset_at=s.started_at + timedelta(minutes=15),
                              intervention="reassurance")
        for s in sessions for sym in (nausea, dissociation)])

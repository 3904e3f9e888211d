"""The database guards the invariants too: a bug or a bulk update cannot write what the forms
refuse."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from sessions.models import FollowUp, SideEffectObservation, VitalSign
from tests.factories import symptom

pytestmark = pytest.mark.django_db


def refused(create) -> bool:
    try:
        with transaction.atomic():
            create()
    except IntegrityError:
        return True
    return False


def test_side_effect_needs_exactly_one_of_session_and_follow_up(session, nurse):
    follow_up = FollowUp.objects.create(patient=session.patient, kind="ad_hoc",
                                        due_on=timezone.localdate())

    def observation(**owner):
        return lambda: SideEffectObservation.objects.create(
            symptom=symptom("Nausea"), severity="mild", onset_at=timezone.now(),
            recorded_by=nurse, **owner)

    assert refused(observation())
    assert refused(observation(session=session, follow_up=follow_up))
    assert not refused(observation(session=session))
    assert not refused(observation(follow_up=follow_up))


@pytest.mark.parametrize("field, bad, good", [
    ("systolic_mmhg", 301, 300), ("systolic_mmhg", 49, 50), ("diastolic_mmhg", 19, 40),
    ("spo2_percent", 101, 100), ("spo2_percent", 49, 50), ("heart_rate_bpm", 251, 250),
])
def test_vital_sign_ranges_enforced_by_the_database(session, nurse, field, bad, good):
    def vital(value):
        values = {"systolic_mmhg": 120, "diastolic_mmhg": 30, field: value}
        return lambda: VitalSign.objects.create(session=session, measured_at=timezone.now(),
                                                recorded_by=nurse, **values)

    assert refused(vital(bad))
    assert not refused(vital(good))


def test_systolic_must_exceed_diastolic_in_the_database(session, nurse):
    assert refused(lambda: VitalSign.objects.create(
        session=session, measured_at=timezone.now(), recorded_by=nurse,
        systolic_mmhg=80, diastolic_mmhg=80))


@pytest.mark.parametrize("field, bad", [("phq9_item_9", 4), ("gad7_item_1", 4)])
def test_score_items_range_enforced_by_the_database(session, nurse, field, bad):
    from sessions.models import Consultation
    from tests.factories import consultation_data

    data = consultation_data()
    data[field] = bad
    assert refused(lambda: Consultation.objects.create(session=session, recorded_by=nurse,
                                                       **data))


@pytest.mark.parametrize("cadss, moaas", [(93, 5), (10, 6)])
def test_cadss_and_moaas_ranges_enforced_by_the_database(session, nurse, advance, cadss, moaas):
    from sessions.models import Monitoring

    advance(session, through="administration")
    assert refused(lambda: Monitoring.objects.create(
        session=session, recorded_by=nurse, discharged_at=timezone.now(),
        observation_minutes=150, cadss_score=cadss, moaas_score=moaas,
        discharge_criteria_met=True, discharged_with="Friend"))


def test_dose_must_be_positive_and_esketamine_intranasal_in_the_database(session, nurse,
                                                                         advance):
    from sessions.models import Administration

    advance(session, through="expectations")

    def administration(**overrides):
        values = dict(drug="ketamine", route="iv", dose_mg=Decimal("40"),
                      dose_mg_per_kg=Decimal("0.5"), weight_kg=Decimal("80"),
                      started_at=timezone.now(), lot_number="L", administered_by=nurse)
        values.update(overrides)
        return lambda: Administration.objects.create(session=session, recorded_by=nurse,
                                                     **values)

    assert refused(administration(dose_mg=Decimal("0")))
    assert refused(administration(drug="esketamine", route="iv"))
    assert refused(administration(ended_at=timezone.now() - timedelta(hours=1)))


def test_cleared_despite_block_needs_a_reason_in_the_database(session, nurse, advance):
    advance(session, through="evaluation")
    evaluation = session.evaluation
    evaluation.blocked = True
    evaluation.override_reason = ""
    assert refused(evaluation.save)

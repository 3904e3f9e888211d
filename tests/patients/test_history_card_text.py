"""A timeline card's dates, times and labels read exactly as Django's own formatting and
get_FOO_display() would show them, in the active time zone: the card builds them once per page
(patients/selectors.py, _CardText), not through Django's per-call lookups."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import dateformat, timezone

from patients import selectors
from sessions.models import SideEffectObservation, VitalSign
from tests.factories import SessionFactory, symptom

pytestmark = pytest.mark.django_db

# A single-digit day, a double-digit one, and a time that is another day in Asia.
MOMENTS = (datetime(2026, 3, 1, 9, 5, tzinfo=UTC), datetime(2026, 12, 24, 18, 45, tzinfo=UTC))


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo", "UTC"])
def test_card_text_is_djangos_formatting_in_the_active_zone(nurse, zone):
    sessions = []
    for moment in MOMENTS:
        session = SessionFactory(scheduled_at=moment)
        for phase, minutes in (("pre_dose", 0), ("post_dose_40", 47)):
            VitalSign.objects.create(session=session, recorded_by=nurse, phase=phase,
                                     measured_at=moment + timedelta(minutes=minutes),
                                     systolic_mmhg=130, diastolic_mmhg=85)
        SideEffectObservation.objects.create(
            session=session, recorded_by=nurse, symptom=symptom("Nausea"), severity="moderate",
            intervention="infusion_paused", onset_at=moment,
            resolved_at=moment + timedelta(hours=1))
        sessions.append(session)

    with timezone.override(zone):
        entries = selectors.timeline_entries([s.pk for s in sessions])
        for session in sessions:
            entry = entries[session.pk]
            local = timezone.localtime(session.scheduled_at)
            assert entry.when == dateformat.format(local, "D j M Y, H:i")
            vitals = list(session.vital_signs.order_by("measured_at"))
            assert [v["time"] for v in entry.vitals] == [
                dateformat.format(timezone.localtime(v.measured_at), "H:i") for v in vitals]
            assert [v["phase"] for v in entry.vitals] == [v.get_phase_display() for v in vitals]
            [observation] = session.side_effects.all()
            [shown] = entry.side_effects
            assert shown["severity"] == observation.get_severity_display()
            assert shown["intervention"] == observation.get_intervention_display().lower()
            assert shown["resolved"] == dateformat.format(
                timezone.localtime(observation.resolved_at), "H:i")

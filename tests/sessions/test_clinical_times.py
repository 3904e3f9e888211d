"""No clinical time can lie, whichever service it is entered through (sessions/timing.py holds
the rules, sessions/services.py applies them):

- no clinical time later than now plus the clinic's clock-skew allowance (5 minutes unless the
  clinic says otherwise), none before its session started;
- discharge never in the future (no allowance), never before the first dose, and the observation
  minimum counts real minutes from the first dose, across a change of the clocks too.

A refused time is refused on its own field, and nothing is written."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.selectors import timeline_entries
from sessions import services
from sessions.errors import WorkflowError
from sessions.models import (
    Administration,
    Evaluation,
    ExpectationSetting,
    FollowUp,
    Monitoring,
    SideEffectObservation,
    TreatmentSession,
    VitalSign,
)
from tests.factories import (
    SessionFactory,
    administration_data,
    evaluation_data,
    expectations_data,
    monitoring_data,
    symptom,
)

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)
CLOCK_SKEW = timedelta(minutes=5)  # Thresholds.clock_skew_minutes by default
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def opened_at():
    """When the session started: its appointment, three hours ago, on the minute (times are
    entered to the minute, and a session's window opens at the start of its minute)."""
    return timezone.now().replace(second=0, microsecond=0) - timedelta(hours=3)


@pytest.fixture
def session(db, clinician, opened_at):
    return SessionFactory(course__responsible_clinician=clinician, scheduled_at=opened_at)


# --- every clinical time a person enters -------------------------------------------------------

@dataclass(frozen=True)
class ClinicalTime:
    """One time input: the steps recorded before it, how it is recorded, and what it writes."""

    name: str
    field: str
    recorded_before: str  # the steps `advance` records first
    record: Any  # (session, moment, staff) -> None
    written: Any  # (session) -> int: the rows (or values) the entry writes
    prepare: Any = None  # (session, staff) -> None: what must exist besides the steps


def _evaluation(session, moment, staff):
    services.evaluation_record(session=session, recorded_by=staff["clinician"],
                               **evaluation_data(measured_at=moment))


def _consent(session, moment, staff):
    services.expectations_record(session=session, recorded_by=staff["nurse"],
                                 **expectations_data(consent_signed_at=moment))


def _first_dose(session, moment, staff):
    services.administration_record(session=session, recorded_by=staff["nurse"],
                                   **administration_data(started_at=moment, ended_at=None))


def _end_of_dosing(session, moment, staff):
    services.administration_record(
        session=session, recorded_by=staff["nurse"],
        **administration_data(started_at=session.scheduled_at, ended_at=moment))


def _vitals(session, moment, staff):
    services.vital_sign_record(session=session, recorded_by=staff["nurse"], measured_at=moment,
                               systolic_mmhg=130, diastolic_mmhg=82, heart_rate_bpm=76,
                               spo2_percent=98)


def _onset(session, moment, staff):
    services.side_effect_record(session=session, recorded_by=staff["nurse"],
                                symptom=symptom("Nausea"), severity="mild", onset_at=moment)


def _resolution_when_recorded(session, moment, staff):
    services.side_effect_record(session=session, recorded_by=staff["nurse"],
                                symptom=symptom("Nausea"), severity="mild",
                                onset_at=session.scheduled_at, resolved_at=moment)


def _nausea_since_the_start(session, staff):
    services.side_effect_record(session=session, recorded_by=staff["nurse"],
                                symptom=symptom("Nausea"), severity="mild",
                                onset_at=session.scheduled_at)


def _resolution_recorded_later(session, moment, staff):
    services.side_effect_update(observation=session.side_effects.get(), resolved_at=moment)


def _post_session_follow_up(session, staff):
    FollowUp.objects.create(patient=session.patient, session=session,
                            kind=FollowUp.Kind.POST_SESSION, due_on=timezone.localdate())


def _follow_up_contact(session, moment, staff):
    services.follow_up_record(follow_up=session.follow_ups.get(), recorded_by=staff["nurse"],
                              status=FollowUp.Status.DONE, contacted_at=moment, method="phone",
                              notes="Doing well.")


CLINICAL_TIMES = [
    ClinicalTime("evaluation vitals", "measured_at", "consultation", _evaluation,
                 lambda s: Evaluation.objects.filter(session=s).count()),
    ClinicalTime("consent", "consent_signed_at", "evaluation", _consent,
                 lambda s: ExpectationSetting.objects.filter(session=s).count()),
    ClinicalTime("first dose", "started_at", "expectations", _first_dose,
                 lambda s: Administration.objects.filter(session=s).count()),
    ClinicalTime("end of dosing", "ended_at", "expectations", _end_of_dosing,
                 lambda s: Administration.objects.filter(session=s).count()),
    ClinicalTime("vitals", "measured_at", "evaluation", _vitals,
                 lambda s: VitalSign.objects.filter(session=s).count()),
    ClinicalTime("side-effect onset", "onset_at", "consultation", _onset,
                 lambda s: SideEffectObservation.objects.filter(session=s).count()),
    ClinicalTime("side-effect resolution", "resolved_at", "consultation",
                 _resolution_when_recorded,
                 lambda s: SideEffectObservation.objects.filter(session=s).count()),
    ClinicalTime("side-effect resolution recorded later", "resolved_at", "consultation",
                 _resolution_recorded_later,
                 lambda s: s.side_effects.filter(resolved_at__isnull=False).count(),
                 prepare=_nausea_since_the_start),
    ClinicalTime("follow-up contact", "contacted_at", "consultation", _follow_up_contact,
                 lambda s: s.follow_ups.filter(status=FollowUp.Status.DONE).count(),
                 prepare=_post_session_follow_up),
]


@pytest.fixture(params=CLINICAL_TIMES, ids=[time.name for time in CLINICAL_TIMES])
def clinical_time(request):
    return request.param


@pytest.fixture
def staff(nurse, clinician):
    return {"nurse": nurse, "clinician": clinician}


@pytest.fixture
def ready(session, advance, staff, clinical_time):
    """The session with everything recorded that the time input needs."""
    advance(session, through=clinical_time.recorded_before)
    if clinical_time.prepare is not None:
        clinical_time.prepare(session, staff)
    return session


def refusal(clinical_time, session, moment, staff) -> WorkflowError:
    with pytest.raises(WorkflowError) as refused:
        clinical_time.record(session, moment, staff)
    return refused.value


def test_a_clinical_time_at_the_clock_skew_allowance_is_accepted(clinical_time, ready, staff):
    # The service's own clock reads a little later than this: the time is at or just inside it.
    clinical_time.record(ready, timezone.now() + CLOCK_SKEW, staff)
    assert clinical_time.written(ready) == 1


def test_a_clinical_time_one_second_beyond_the_clock_skew_allowance_is_refused(
        clinical_time, ready, staff):
    error = refusal(clinical_time, ready, timezone.now() + CLOCK_SKEW + SECOND, staff)
    assert error.field == clinical_time.field
    assert "is in the future: it is" in error.text
    assert clinical_time.written(ready) == 0


def test_a_clinical_time_exactly_when_the_session_started_is_accepted(clinical_time, ready,
                                                                      opened_at, staff):
    clinical_time.record(ready, opened_at, staff)
    assert clinical_time.written(ready) == 1


def test_a_clinical_time_one_second_before_the_session_started_is_refused(
        clinical_time, ready, opened_at, staff):
    error = refusal(clinical_time, ready, opened_at - SECOND, staff)
    assert error.field == clinical_time.field
    assert "is before this session started" in error.text
    assert clinical_time.written(ready) == 0


def test_the_clock_skew_allowance_is_clinic_policy(clinical_time, ready, staff, settings):
    settings.CLINIC_SAFETY = {"clock_skew_minutes": 0}
    error = refusal(clinical_time, ready, timezone.now() + timedelta(minutes=1), staff)
    assert (error.field, "is in the future" in error.text) == (clinical_time.field, True)
    assert clinical_time.written(ready) == 0


def test_a_refused_first_step_time_leaves_the_session_as_it_was(advance, clinician, nurse):
    """The evaluation's time refused: no evaluation, and the session still at that step."""
    session = SessionFactory(course__responsible_clinician=clinician)
    advance(session, through="consultation")
    with pytest.raises(WorkflowError):
        _evaluation(session, timezone.now() + timedelta(hours=1), {"clinician": clinician})
    session.refresh_from_db()
    assert (session.status, session.current_step) == (TreatmentSession.Status.IN_PROGRESS,
                                                      "evaluation")


def test_a_session_opened_before_its_appointment_accepts_times_from_when_it_was_opened(
        clinician, nurse, advance):
    session = SessionFactory(course__responsible_clinician=clinician,
                             scheduled_at=timezone.now() + timedelta(minutes=30))
    session = services.session_start(session=session)  # the patient is seen early
    advance(session, through="evaluation")
    staff = {"nurse": nurse}

    opened_minute = session.started_at.replace(second=0, microsecond=0)
    with pytest.raises(WorkflowError, match="is before this session started"):
        _vitals(session, opened_minute - SECOND, staff)
    _vitals(session, opened_minute, staff)

    assert session.vital_signs.count() == 1


def test_an_evaluation_without_a_time_was_measured_when_it_is_recorded(session, advance,
                                                                      clinician):
    advance(session, through="consultation")
    before = timezone.now()
    evaluation = services.evaluation_record(session=session, recorded_by=clinician,
                                            **evaluation_data(measured_at=None))
    assert before <= evaluation.measured_at <= timezone.now()


def test_signed_consent_without_a_time_was_signed_when_it_is_recorded(session, advance, nurse):
    advance(session, through="evaluation")
    before = timezone.now()
    expectations = services.expectations_record(
        session=session, recorded_by=nurse, **expectations_data(consent_signed_at=None))
    assert before <= expectations.consent_signed_at <= timezone.now()


def test_a_side_effect_reported_at_a_follow_up_cannot_be_in_the_future(session, advance, nurse):
    advance(session, through="consultation")
    follow_up = FollowUp.objects.create(patient=session.patient, course=session.course,
                                        kind=FollowUp.Kind.COURSE_7_DAYS,
                                        due_on=timezone.localdate())
    with pytest.raises(WorkflowError) as refused:
        services.side_effect_record(follow_up=follow_up, recorded_by=nurse,
                                    symptom=symptom("Nausea"), severity="mild",
                                    onset_at=timezone.now() + CLOCK_SKEW + SECOND)
    assert refused.value.field == "onset_at"
    assert not SideEffectObservation.objects.exists()


def test_a_vital_from_the_day_before_the_session_is_refused_and_not_in_the_peak(
        session, advance, nurse):
    advance(session, through="administration")  # the first dose 150 minutes ago
    with pytest.raises(WorkflowError) as refused:
        services.vital_sign_record(session=session, recorded_by=nurse,
                                   measured_at=timezone.now() - timedelta(days=1),
                                   phase=VitalSign.Phase.POST_DOSE_40, systolic_mmhg=190,
                                   diastolic_mmhg=110, heart_rate_bpm=90, spo2_percent=97)
    services.vital_sign_record(session=session, recorded_by=nurse,
                               measured_at=timezone.now() - timedelta(minutes=110),
                               phase=VitalSign.Phase.POST_DOSE_40, systolic_mmhg=136,
                               diastolic_mmhg=84, heart_rate_bpm=80, spo2_percent=98)

    assert refused.value.field == "measured_at"
    assert "is before this session started" in refused.value.text
    assert timeline_entries([session.pk])[session.pk].peak_bp == (136, 84)


# --- discharge ---------------------------------------------------------------------------------

def discharge(session, nurse, discharged_at) -> Monitoring:
    return services.monitoring_record(session=session, recorded_by=nurse,
                                      **monitoring_data(discharged_at=discharged_at))


def discharge_refusal(session, nurse, discharged_at) -> WorkflowError:
    with pytest.raises(WorkflowError) as refused:
        discharge(session, nurse, discharged_at)
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.IN_PROGRESS
    assert not Monitoring.objects.filter(session=session).exists()
    assert refused.value.field == "discharged_at"
    return refused.value


def dosed(session, advance, first_dose_at):
    return advance(session, through="administration",
                   administration={"started_at": first_dose_at, "ended_at": None})


def test_discharge_now_is_accepted(session, advance, nurse):
    dosed(session, advance, timezone.now() - timedelta(minutes=150))
    monitoring = discharge(session, nurse, timezone.now())
    assert monitoring.observation_minutes == 150
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.COMPLETED


def test_discharge_one_second_in_the_future_is_refused(session, advance, nurse):
    dosed(session, advance, timezone.now() - timedelta(minutes=150))
    error = discharge_refusal(session, nurse, timezone.now() + SECOND)
    assert "is in the future" in error.text


def test_discharge_has_no_clock_skew_allowance(session, advance, nurse, settings):
    settings.CLINIC_SAFETY = {"clock_skew_minutes": 60}
    dosed(session, advance, timezone.now() - timedelta(minutes=150))
    error = discharge_refusal(session, nurse, timezone.now() + timedelta(minutes=1))
    assert "is in the future" in error.text


def test_discharge_one_second_before_the_first_dose_is_refused(session, advance, nurse,
                                                              opened_at):
    first_dose_at = opened_at + timedelta(minutes=10)
    dosed(session, advance, first_dose_at)
    error = discharge_refusal(session, nurse, first_dose_at - SECOND)
    assert "cannot be before the first dose" in error.text


def test_discharge_exactly_the_observation_minimum_after_the_first_dose_is_accepted(
        session, advance, nurse, opened_at):
    first_dose_at = opened_at + timedelta(minutes=10)  # 170 minutes ago
    dosed(session, advance, first_dose_at)
    monitoring = discharge(session, nurse, first_dose_at + timedelta(minutes=120))
    assert monitoring.observation_minutes == 120


def test_discharge_one_second_short_of_the_observation_minimum_is_refused(
        session, advance, nurse, opened_at):
    first_dose_at = opened_at + timedelta(minutes=10)
    dosed(session, advance, first_dose_at)
    error = discharge_refusal(session, nurse, first_dose_at + timedelta(minutes=120) - SECOND)
    assert "119 minutes observed since the first dose, the minimum is 120" in error.text


def test_the_observation_minimum_is_clinic_policy(session, advance, nurse, opened_at, settings):
    settings.CLINIC_SAFETY = {"min_observation_minutes": 150}
    first_dose_at = opened_at + timedelta(minutes=10)
    dosed(session, advance, first_dose_at)
    error = discharge_refusal(session, nurse, first_dose_at + timedelta(minutes=149))
    assert "the minimum is 150" in error.text


def test_a_discharge_two_hours_after_a_dose_given_five_minutes_ago_is_in_the_future(
        session, advance, nurse):
    """The patient is still in the chair: 125 minutes "observed" would have completed it."""
    dosed(session, advance, timezone.now() - timedelta(minutes=5))
    error = discharge_refusal(session, nurse, timezone.now() + timedelta(hours=2, minutes=5))
    assert "is in the future" in error.text


# --- across a change of the clocks (America/New_York) ------------------------------------------

@pytest.fixture
def clinic_in_new_york(settings):
    settings.TIME_ZONE = "America/New_York"


def session_on(day: date, *, clinician, advance, at: datetime, first_dose_at: datetime):
    """A session of that night, evaluated and consented at `at`, dosed at `first_dose_at`."""
    session = SessionFactory(course__responsible_clinician=clinician,
                             course__started_on=day - timedelta(days=7), scheduled_at=at)
    return advance(session, through="administration",
                   evaluation={"measured_at": at}, expectations={"consent_signed_at": at},
                   administration={"started_at": first_dose_at, "ended_at": None})


def in_new_york(*fields: int, fold: int = 0) -> datetime:
    return datetime(*fields, tzinfo=NEW_YORK, fold=fold)


@pytest.fixture
def dosed_before_the_fall_back(clinic_in_new_york, clinician, advance):
    """2026-11-01: clocks go back at 02:00 EDT to 01:00 EST, so 01:00-02:00 happens twice.
    The first dose is at 00:50 EDT."""
    return session_on(date(2026, 11, 1), clinician=clinician, advance=advance,
                      at=in_new_york(2026, 11, 1, 0, 0),
                      first_dose_at=in_new_york(2026, 11, 1, 0, 50))


def test_at_the_fall_back_a_discharge_at_the_second_one_fifty_is_two_hours_after_the_dose(
        dosed_before_the_fall_back, nurse):
    monitoring = discharge(dosed_before_the_fall_back, nurse,
                           in_new_york(2026, 11, 1, 1, 50, fold=1))  # 01:50 EST
    assert monitoring.observation_minutes == 120


def test_at_the_fall_back_a_discharge_at_the_first_one_fifty_is_one_hour_after_the_dose(
        dosed_before_the_fall_back, nurse):
    error = discharge_refusal(dosed_before_the_fall_back, nurse,
                              in_new_york(2026, 11, 1, 1, 50, fold=0))  # 01:50 EDT
    assert error.text == (
        "Monitoring cannot be closed yet: 60 minutes observed since the first dose, the minimum "
        "is 120. Discharge at 2026-11-01 01:50 EST at the earliest.")


def test_at_the_spring_forward_a_discharge_three_clock_hours_after_the_dose_is_two_real_hours(
        clinic_in_new_york, clinician, advance, nurse):
    # 2026-03-08: clocks go forward at 02:00 EST to 03:00 EDT.
    session = session_on(date(2026, 3, 8), clinician=clinician, advance=advance,
                         at=in_new_york(2026, 3, 8, 0, 30),
                         first_dose_at=in_new_york(2026, 3, 8, 1, 30))  # 01:30 EST
    monitoring = discharge(session, nurse, in_new_york(2026, 3, 8, 4, 30))  # 04:30 EDT
    assert monitoring.observation_minutes == 120


def test_at_the_spring_forward_a_discharge_two_clock_hours_after_the_dose_is_too_early(
        clinic_in_new_york, clinician, advance, nurse):
    session = session_on(date(2026, 3, 8), clinician=clinician, advance=advance,
                         at=in_new_york(2026, 3, 8, 0, 30),
                         first_dose_at=in_new_york(2026, 3, 8, 1, 30))
    error = discharge_refusal(session, nurse, in_new_york(2026, 3, 8, 3, 30))  # 03:30 EDT
    assert "60 minutes observed since the first dose, the minimum is 120" in error.text


# --- the step page: the same refusals as form errors -------------------------------------------

def local_input(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def post_discharge(client, session, discharged_at: str):
    return client.post(reverse("session_step", args=[session.pk, "monitoring"]), {
        "discharged_at": discharged_at, "cadss_score": "10", "moaas_score": "5",
        "discharge_criteria_met": "on", "discharged_with": "Sister"})


def test_the_step_page_refuses_a_discharge_in_the_future_and_writes_nothing(
        client, session, advance, nurse):
    dosed(session, advance, timezone.now() - timedelta(minutes=5))
    ahead = timezone.now() + timedelta(hours=2, minutes=5)
    client.force_login(nurse)

    response = post_discharge(client, session, local_input(ahead))

    assert response.status_code == 400
    page = response.content.decode()
    assert f"The end of monitoring ({timezone.localtime(ahead):%H:%M}) is in the future" in page
    assert not Monitoring.objects.exists()
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.IN_PROGRESS


@pytest.mark.parametrize("local_time", ["2026-11-01T01:50", "2026-03-08T02:30"],
                         ids=["happens-twice-at-the-fall-back", "never-happens-at-spring-forward"])
def test_the_step_page_asks_again_for_a_local_time_that_is_ambiguous_or_never_happens(
        client, dosed_before_the_fall_back, nurse, local_time):
    client.force_login(nurse)

    response = post_discharge(client, dosed_before_the_fall_back, local_time)

    assert response.status_code == 400
    assert (f"{local_time.replace('T', ' ')}:00 couldn’t be interpreted in time zone "
            "America/New_York; it may be ambiguous or it may not exist.") in (
        response.content.decode())
    assert not Monitoring.objects.exists()

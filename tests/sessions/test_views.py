"""The session pages: dashboard, one page per step, vitals and side effects, the REMS record.
A refused action shows its reason on the form and changes nothing."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from patients.models import Condition, Medication
from sessions import selectors, services
from sessions.models import (
    Administration,
    Evaluation,
    Monitoring,
    Reminder,
    SideEffectObservation,
    TreatmentSession,
    VitalSign,
)
from tests.factories import SessionFactory, UserFactory, consultation_data, symptom
from tests.pages import complete_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def frontdesk(db):
    return UserFactory(username="desk1", role="Front desk")


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def step_url(session, step):
    return reverse("session_step", args=[session.pk, step])


def evaluation_post(**overrides):
    data = {"systolic_mmhg": "124", "diastolic_mmhg": "80", "heart_rate_bpm": "72",
            "spo2_percent": "98", "weight_kg": "80", "decision": "cleared", "save": "1"}
    data.update(overrides)
    return data


# --- access --------------------------------------------------------------------------------

PAGES = ["session_detail", "session_step", "rems_record"]


@pytest.mark.parametrize("name", ["dashboard", *PAGES])
def test_anonymous_users_are_sent_to_login(client, session, name):
    args = {"dashboard": [], "session_step": [session.pk, "consultation"]}.get(name, [session.pk])
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", ["session_start", "session_cancel", "vital_sign_add",
                                  "side_effect_add", "rems_submit"])
def test_front_desk_cannot_post_clinical_actions(client, frontdesk, session, name):
    client.force_login(frontdesk)
    assert client.post(reverse(name, args=[session.pk]), {}).status_code == 403


def test_front_desk_sees_the_schedule_but_no_clinical_page(client, frontdesk, session):
    session.scheduled_at = timezone.now()
    session.save()
    client.force_login(frontdesk)
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert session.patient.full_name in dashboard
    assert "Now in monitoring" not in dashboard and "Serious side effects" not in dashboard
    assert reverse("session_detail", args=[session.pk]) not in dashboard
    for name, args in (("session_detail", [session.pk]), ("rems_record", [session.pk]),
                       ("session_step", [session.pk, "consultation"])):
        assert client.get(reverse(name, args=args)).status_code == 403, name


def test_login_page_logs_in_and_lands_on_the_dashboard(client, nurse):
    page = client.get(reverse("login")).content.decode()
    assert 'name="username"' in page and "/static/vendor/bootstrap-5.3.8/" in page
    response = client.post(reverse("login"), {"username": "nurse1",
                                              "password": "correct-horse-battery-9"},
                           follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    # A logged-in user is sent on to the dashboard; a wrong password is refused elsewhere.
    bad = Client().post(reverse("login"), {"username": "nurse1", "password": "wrong"})
    assert "Please enter a correct username and password" in bad.content.decode()


# --- dashboard -----------------------------------------------------------------------------

def test_dashboard_shows_today_monitoring_serious_events_and_rems_due(client, clinician, nurse,
                                                                       advance):
    today = SessionFactory(scheduled_at=timezone.now())
    dosed = SessionFactory(scheduled_at=timezone.now() - timedelta(hours=1))
    advance(dosed, through="administration",
            administration={"started_at": timezone.now() - timedelta(minutes=45)})
    SideEffectObservation.objects.create(
        session=dosed, recorded_by=nurse, symptom=symptom("Panic attack", "panic"),
        severity="severe", onset_at=timezone.now() - timedelta(minutes=30))
    esketamine = SessionFactory(course__drug="esketamine",
                                scheduled_at=timezone.now() - timedelta(days=2))
    complete_session(esketamine, advance=advance, nurse=nurse, drug="esketamine")
    client.force_login(clinician)

    page = client.get(reverse("dashboard")).content.decode()

    assert today.patient.full_name in page and "Consultation" in page  # its current step
    assert "45 of 120 min observed" in page and "75 min to go" in page
    assert "Panic attack" in page and "Severe" in page and "(unresolved)" in page
    assert reverse("rems_record", args=[esketamine.pk]) in page
    assert "days left" in page


def early_today(minutes: int):
    """A time today (local), well away from midnight whenever the test runs."""
    start = timezone.localtime().replace(hour=1, minute=0, second=0, microsecond=0)
    return start + timedelta(minutes=minutes)


def test_dashboard_pages_through_today_and_counts_the_day_by_step(client, clinician, advance,
                                                                   settings):
    settings.DASHBOARD_LIST_SIZE = 2
    sessions = [SessionFactory(scheduled_at=early_today(minutes)) for minutes in (10, 20, 30)]
    advance(sessions[0], through="consultation")
    client.force_login(clinician)

    first = client.get(reverse("dashboard")).content.decode()
    second = client.get(reverse("dashboard"), {"page": 2}).content.decode()

    assert "Medical evaluation 1" in first and "Consultation 2" in first  # the whole day
    assert "Sessions 1–2 of 3" in first and "Later" in first
    assert sessions[0].patient.full_name in first and sessions[2].patient.full_name not in first
    assert "Sessions 3–3 of 3" in second and sessions[2].patient.full_name in second


def test_dashboard_monitoring_list_is_bounded_and_says_how_many_there_are(client, clinician,
                                                                          advance, settings):
    settings.DASHBOARD_LIST_SIZE = 2
    for minutes_ago in (90, 60, 30):
        session = SessionFactory(scheduled_at=timezone.now() - timedelta(hours=2))
        advance(session, through="administration", administration={
            "started_at": timezone.now() - timedelta(minutes=minutes_ago)})
    client.force_login(clinician)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Showing 2 of 3, longest observed first." in page
    assert "90 of 120 min observed" in page and "60 of 120 min observed" in page
    assert "30 of 120 min observed" not in page


def test_only_esketamine_sessions_have_a_rems_record_to_submit(client, clinician, nurse,
                                                                advance):
    ketamine = complete_session(SessionFactory(scheduled_at=timezone.now() - timedelta(days=2)),
                                advance=advance, nurse=nurse)
    esketamine = complete_session(
        SessionFactory(course__drug="esketamine",
                       scheduled_at=timezone.now() - timedelta(days=2)),
        advance=advance, nurse=nurse, drug="esketamine")
    assert not ketamine.monitoring.rems_required and esketamine.monitoring.rems_required
    client.force_login(clinician)
    page = client.get(reverse("dashboard")).content.decode()
    assert reverse("rems_record", args=[esketamine.pk]) in page
    assert reverse("rems_record", args=[ketamine.pk]) not in page


# --- step pages ----------------------------------------------------------------------------

def test_only_the_next_step_is_offered(client, nurse, session):
    client.force_login(nurse)
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert step_url(session, "consultation") in page
    assert step_url(session, "evaluation") not in page
    later = client.get(step_url(session, "administration")).content.decode()
    assert "Record the consultation before the treatment administration." in later
    assert 'id="step-form"' not in later
    refused = client.post(step_url(session, "administration"), {"dose_mg": "40"})
    assert refused.status_code == 409
    assert not Administration.objects.exists()


def test_consultation_page_records_scores_through_the_service(client, nurse, session):
    client.force_login(nurse)
    data = {k: str(v) for k, v in consultation_data().items() if not isinstance(v, bool)}
    response = client.post(step_url(session, "consultation"), data)
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.consultation.phq9_total == 8
    assert session.status == TreatmentSession.Status.IN_PROGRESS


def test_invalid_input_is_a_form_error_and_saves_nothing(client, nurse, session, advance):
    advance(session, through="consultation")
    client.force_login(nurse)
    response = client.post(step_url(session, "evaluation"),
                           evaluation_post(systolic_mmhg="70", diastolic_mmhg="90"))
    assert response.status_code == 400
    assert "Systolic pressure must be above diastolic." in response.content.decode()
    assert not Evaluation.objects.exists()


def test_evaluation_check_shows_findings_without_saving(client, clinician, session, advance):
    Medication.objects.create(patient=session.patient, name="Phenelzine", drug_class="maoi")
    advance(session, through="consultation")
    client.force_login(clinician)
    data = evaluation_post(systolic_mmhg="165", diastolic_mmhg="95", check="1")
    del data["save"]
    page = client.post(step_url(session, "evaluation"), data).content.decode()
    assert "Blood pressure 165/95 mmHg is at or above the hold threshold" in page
    assert "Phenelzine (MAOI) interacts with ketamine" in page
    assert not Evaluation.objects.exists()


def test_nurse_cannot_clear_a_blocked_patient_and_has_no_override_field(client, nurse,
                                                                         session, advance):
    advance(session, through="consultation")
    client.force_login(nurse)
    form_page = client.get(step_url(session, "evaluation")).content.decode()
    assert "override_reason" not in form_page
    response = client.post(step_url(session, "evaluation"),
                           evaluation_post(systolic_mmhg="170", diastolic_mmhg="100",
                                           override_reason="sneaked in"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "The patient cannot be cleared" in page and "hold threshold" in page
    assert not Evaluation.objects.exists()


def test_clinician_clears_a_blocked_patient_only_with_a_reason(client, clinician, session,
                                                               advance):
    advance(session, through="consultation")
    client.force_login(clinician)
    url = step_url(session, "evaluation")
    assert "override_reason" in client.get(url).content.decode()
    refused = client.post(url, evaluation_post(alcohol_or_drugs_last_24h="on"))
    assert "Clearing despite block findings needs a written reason" in refused.content.decode()
    assert not Evaluation.objects.exists()
    cleared = client.post(url, evaluation_post(alcohol_or_drugs_last_24h="on",
                                               override_reason="Breath test negative."))
    assert cleared.status_code == 302
    evaluation = Evaluation.objects.get()
    assert evaluation.blocked and evaluation.is_cleared


def test_administration_refused_until_patient_cleared(client, nurse, session, advance):
    advance(session, through="expectations", evaluation={"decision": "held"})
    client.force_login(nurse)
    response = client.post(step_url(session, "administration"), {
        "drug": "ketamine", "route": "iv", "dose_mg": "40",
        "started_at": local(timezone.now()), "lot_number": "L1"})
    assert response.status_code == 400
    assert "Administration is refused: the patient was held" in response.content.decode()
    assert not Administration.objects.exists()


def test_monitoring_refused_while_observation_too_short(client, nurse, session, advance):
    advance(session, through="administration",
            administration={"started_at": timezone.now() - timedelta(minutes=60)})
    client.force_login(nurse)
    response = client.post(step_url(session, "monitoring"), {
        "discharged_at": local(timezone.now()), "cadss_score": "10", "moaas_score": "5",
        "discharge_criteria_met": "on", "discharged_with": "Sister"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Monitoring cannot be closed yet:" in page and "the minimum is 120" in page
    assert not Monitoring.objects.exists()
    # Two hours and five minutes after the first dose, but that is an hour from now: the
    # patient is still in the chair.
    ahead = client.post(step_url(session, "monitoring"), {
        "discharged_at": local(timezone.now() + timedelta(hours=1, minutes=5)),
        "cadss_score": "10", "moaas_score": "5", "discharge_criteria_met": "on",
        "discharged_with": "Sister"})
    assert ahead.status_code == 400
    assert "is in the future" in ahead.content.decode()
    assert not Monitoring.objects.exists()


def test_monitoring_refused_while_discharge_criteria_are_unmet(client, nurse, session, advance):
    advance(session, through="administration")  # first dose 150 minutes ago
    client.force_login(nurse)
    unmet = client.post(step_url(session, "monitoring"), {
        "discharged_at": local(timezone.now()), "cadss_score": "10",
        "moaas_score": "5", "discharged_with": "Sister"})
    assert "discharge criteria are not met" in unmet.content.decode()
    assert not Monitoring.objects.exists()


def test_a_completed_session_offers_no_step(client, nurse, session, advance):
    complete_session(session, advance=advance, nurse=nurse)
    client.force_login(nurse)
    page = client.get(step_url(session, "monitoring")).content.decode()
    assert "This session is completed; nothing more can be recorded on it." in page


# --- vitals, side effects, cancelling ------------------------------------------------------

def test_vitals_can_be_added_repeatedly_and_rises_are_flagged(client, nurse, session, advance):
    advance(session, through="administration")
    client.force_login(nurse)
    url = reverse("vital_sign_add", args=[session.pk])
    for systolic in ("130", "170"):
        response = client.post(url, {"vital-measured_at": local(timezone.now()),
                                      "vital-phase": "periodic",
                                      "vital-systolic_mmhg": systolic,
                                      "vital-diastolic_mmhg": "85"}, follow=True)
    assert VitalSign.objects.filter(session=session).count() == 2
    assert "Vitals recorded, flagged: Systolic pressure 170 mmHg" in response.content.decode()
    bad = client.post(url, {"vital-measured_at": "", "vital-systolic_mmhg": "999"})
    assert bad.status_code == 400 and VitalSign.objects.count() == 2


def test_vitals_refused_before_evaluation_with_the_reason(client, nurse, session):
    client.force_login(nurse)
    response = client.post(reverse("vital_sign_add", args=[session.pk]), {
        "vital-measured_at": local(timezone.now()), "vital-phase": "periodic",
        "vital-systolic_mmhg": "120", "vital-diastolic_mmhg": "80"})
    assert response.status_code == 400
    assert "Record the medical evaluation (the baseline vitals) first." in \
        response.content.decode()


def test_side_effects_are_added_and_resolved_on_the_session_page(client, nurse, session,
                                                                  advance):
    advance(session, through="administration")
    client.force_login(nurse)
    onset = timezone.now() - timedelta(minutes=20)
    client.post(reverse("side_effect_add", args=[session.pk]), {
        "side_effect-symptom": symptom("Panic attack", "panic").pk,
        "side_effect-severity": "severe", "side_effect-onset_at": local(onset),
        "side_effect-intervention": "deep_breathing"})
    observation = SideEffectObservation.objects.get(session=session)
    prefix = f"observation-{observation.pk}"
    update = reverse("side_effect_update", args=[session.pk, observation.pk])
    early = client.post(update, {f"{prefix}-resolved_at": local(onset - timedelta(hours=1)),
                                 f"{prefix}-intervention": "grounding",
                                 f"{prefix}-severity": "severe"})
    assert early.status_code == 400
    assert "cannot resolve before its onset" in early.content.decode()
    client.post(update, {f"{prefix}-resolved_at": local(timezone.now()),
                         f"{prefix}-intervention": "grounding", f"{prefix}-severity": "severe"})
    observation.refresh_from_db()
    assert observation.resolved_at is not None and observation.intervention == "grounding"


def test_cancel_needs_a_reason(client, nurse, session):
    client.force_login(nurse)
    url = reverse("session_cancel", args=[session.pk])
    assert client.post(url, {"cancel-reason": "  "}).status_code == 400
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.SCHEDULED
    client.post(url, {"cancel-reason": "Unwell", "cancel-no_show": ""})
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.CANCELLED


# --- REMS ----------------------------------------------------------------------------------

def test_rems_record_is_derived_from_the_session(client, clinician, nurse, advance):
    session = SessionFactory(course__drug="esketamine")
    Medication.objects.create(patient=session.patient, name="Oxycodone", drug_class="opioid")
    Condition.objects.create(patient=session.patient, kind="depression")
    complete_session(session, advance=advance, nurse=nurse, drug="esketamine")
    client.force_login(clinician)
    page = client.get(reverse("rems_record", args=[session.pk])).content.decode()
    assert "56.00 mg" in page and "LOT-TEST-1" in page
    assert '<td id="rems-minutes">130</td>' in page
    assert "126/82 mmHg" in page and "150/82 mmHg" in page and "128/82 mmHg" in page
    assert page.count("— in range") == 3
    assert "5 — Responds readily to name spoken in normal tone" in page
    assert "Oxycodone (Opioid)" in page
    assert "not yet" in page


def test_rems_submitted_with_a_date_and_leaves_the_due_list(client, clinician, nurse, advance):
    session = SessionFactory(course__drug="esketamine")
    complete_session(session, advance=advance, nurse=nurse, drug="esketamine")
    client.force_login(clinician)
    url = reverse("rems_submit", args=[session.pk])
    future = client.post(url, {"submitted_on": str(timezone.localdate() + timedelta(days=1))})
    assert future.status_code == 400
    assert "cannot be in the future" in future.content.decode()
    assert client.post(url, {"submitted_on": str(timezone.localdate())}).status_code == 302
    session.monitoring.refresh_from_db()
    assert session.monitoring.rems_submitted_on == timezone.localdate()
    again = client.post(url, {"submitted_on": str(timezone.localdate())})
    assert "already submitted" in again.content.decode()
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert reverse("rems_record", args=[session.pk]) not in dashboard


def test_rems_record_does_not_exist_for_racemic_ketamine(client, clinician, session):
    client.force_login(clinician)
    assert client.get(reverse("rems_record", args=[session.pk])).status_code == 404


def fill_dashboard(*, count: int, advance, nurse) -> None:
    """`count` more rows in every list of the dashboard: today's sessions at different steps,
    patients in monitoring, serious side effects, REMS records due and failed reminders."""
    for n in range(count):
        advance(SessionFactory(scheduled_at=early_today(minutes=n)), through="consultation")
        dosed = SessionFactory(scheduled_at=timezone.now() - timedelta(hours=1))
        advance(dosed, through="administration",
                administration={"started_at": timezone.now() - timedelta(minutes=30 + n)})
        SideEffectObservation.objects.create(
            session=dosed, recorded_by=nurse, symptom=symptom("Panic attack", "panic"),
            severity="severe", onset_at=timezone.now() - timedelta(minutes=20))
        complete_session(SessionFactory(course__drug="esketamine",
                                        scheduled_at=timezone.now() - timedelta(days=2)),
                         advance=advance, nurse=nurse, drug="esketamine")
        Reminder.objects.create(kind="follow_up_check", cause=f"dashboard:{n}:{dosed.pk}",
                                patient=dosed.patient, due_at=timezone.now(), status="failed",
                                last_error="550 No such mailbox")


def test_dashboard_runs_the_same_queries_for_few_and_many_rows_in_every_list(
        client, clinician, nurse, advance):
    """No N+1 on the dashboard: each list's rows come with what they show."""
    client.force_login(clinician)
    counts, pages = [], []
    for count in (1, 8):
        fill_dashboard(count=count, advance=advance, nurse=nurse)
        client.get(reverse("dashboard"))  # per-process caches (content types) warmed first
        with CaptureQueriesContext(connection) as queries:
            pages.append(client.get(reverse("dashboard")).content.decode())
        counts.append(len(queries))
    assert pages[1].count("Panic attack") == 9 and pages[1].count("550 No such mailbox") == 9
    assert counts[0] == counts[1], counts


def test_the_day_counted_by_step_agrees_with_each_sessions_own_current_step(advance, nurse):
    """The database's count (one query for the whole day) follows the same rule as the session
    page: the first step not recorded, Done after all five, Cancelled and No-show as such."""
    sessions = [SessionFactory(scheduled_at=early_today(minutes)) for minutes in range(9)]
    for session, through in zip(sessions[1:5], ("consultation", "evaluation", "expectations",
                                                 "administration"), strict=True):
        advance(session, through=through)
    complete_session(sessions[5], advance=advance, nurse=nurse)
    services.session_cancel(session=sessions[6], reason="Unwell")
    advance(sessions[7], through="evaluation")
    services.session_cancel(session=sessions[7], reason="Held at evaluation")
    services.session_cancel(session=sessions[8], reason="Did not come", no_show=True)

    counted = selectors.sessions_today_by_step(today=timezone.localdate())

    expected: dict[str, int] = {}
    for session in TreatmentSession.objects.filter(pk__in=[s.pk for s in sessions]):
        expected[session.current_step_label] = expected.get(session.current_step_label, 0) + 1
    assert dict(counted) == expected
    assert expected == {"Consultation": 1, "Medical evaluation": 1, "Setting expectations": 1,
                        "Treatment administration": 1, "Post-treatment monitoring": 1,
                        "Done": 1, "Cancelled": 2, "No-show": 1}


# --- when things happened and when they were entered -------------------------------------------

def test_session_page_lists_readings_in_the_order_taken_and_marks_late_entries(
        client, nurse, session, advance):
    """An evaluation whose vitals were taken at 08:00 but charted now sorts after a pre-dose
    reading taken earlier, not by when it was typed; both show who entered them and when, and
    the late one says so."""
    nurse.first_name, nurse.last_name = "Nora", "Nurse"
    nurse.save()
    first_dose = timezone.now() - timedelta(minutes=150)
    advance(session, through="administration",
            evaluation={"measured_at": first_dose - timedelta(minutes=20)},
            administration={"started_at": first_dose})
    services.vital_sign_record(session=session, recorded_by=nurse, phase="pre_dose",
                               measured_at=first_dose - timedelta(minutes=50),
                               systolic_mmhg=131, diastolic_mmhg=81)
    services.vital_sign_record(session=session, recorded_by=nurse, phase="periodic",
                               measured_at=timezone.now() - timedelta(minutes=2),
                               systolic_mmhg=125, diastolic_mmhg=79)
    client.force_login(nurse)
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()

    vitals = page[page.index('id="vitals"'):page.index('id="side-effects"')]
    assert vitals.index("131/81") < vitals.index("122/78") < vitals.index("125/79")
    rows = vitals.split("<tr>")[2:]
    assert "charted late" in rows[0] and "by Nora Nurse" in rows[0]  # 50 min before dosing
    assert "charted late" not in rows[2] and "by Nora Nurse" in rows[2]  # entered 2 min after
    steps = page[page.index('id="steps"'):page.index('id="vitals"')]
    administration = steps[steps.index("Treatment administration"):]
    assert "charted late" in administration.split("</li>")[0]  # dosed 150 minutes ago

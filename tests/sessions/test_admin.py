"""The admin is where staff log sessions as they happen: every page renders, a whole session can
be logged through it, and a refused step is a form error — never a 500."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from patients.models import Patient
from sessions.demo import seed_demo
from sessions.models import SideEffectObservation, TreatmentSession, VitalSign
from tests.admin_forms import form_data, set_fields
from tests.factories import (
    CourseFactory,
    PatientFactory,
    consultation_data,
    evaluation_data,
    expectations_data,
    symptom,
)

pytestmark = pytest.mark.django_db


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def demo_data(db):
    seed_demo()


def test_every_admin_changelist_add_and_change_page_renders(client, superuser, demo_data):
    client.force_login(superuser)
    checked = 0
    for model, model_admin in admin.site._registry.items():
        assert client.get(admin_url(model, "changelist")).status_code == 200, model
        add = client.get(admin_url(model, "add"))
        expected_add = 200 if model_admin.has_add_permission(_request(superuser)) else 403
        assert add.status_code == expected_add, model
        obj = model.objects.order_by("pk").last()
        if obj is not None:
            assert client.get(admin_url(model, "change", obj.pk)).status_code == 200, model
        checked += 1
    assert checked >= 14


def test_changelist_search_and_filters_render(client, superuser, demo_data):
    client.force_login(superuser)
    sessions_url = admin_url(TreatmentSession, "changelist")
    for query in ("?status__exact=completed", "?q=Quill", "?scheduled_at__year=2026",
                  "?course__drug__exact=esketamine"):
        assert client.get(sessions_url + query).status_code == 200


def test_clinical_records_cannot_be_deleted_in_the_admin(client, superuser, demo_data):
    client.force_login(superuser)
    patient = Patient.objects.first()
    assert client.get(admin_url(Patient, "delete", patient.pk)).status_code == 403
    session = TreatmentSession.objects.first()
    assert client.post(admin_url(TreatmentSession, "delete", session.pk),
                       {"post": "yes"}).status_code == 403
    assert Patient.objects.filter(pk=patient.pk).exists()


def test_patient_search_by_date_of_birth_and_mrn(client, superuser):
    client.force_login(superuser)
    born = PatientFactory(last_name="Birthday", date_of_birth="1970-02-03")
    PatientFactory(last_name="Nonmatching", date_of_birth="1990-01-01")
    url = admin_url(Patient, "changelist")
    for query in ("1970-02-03", "02/03/1970", born.mrn):
        page = client.get(url, {"q": query}).content.decode()
        assert "Birthday" in page and "Nonmatching" not in page, query


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user
    return request


# --- logging a whole session through the admin ---------------------------------------------

class AdminSessionLogger:
    def __init__(self, client, session):
        self.client = client
        self.url = admin_url(TreatmentSession, "change", session.pk)
        self.session = session

    def page(self):
        response = self.client.get(self.url)
        assert response.status_code == 200
        return response

    def submit(self, prefix, **fields):
        """Post the page with the fields of form `prefix` (e.g. "evaluation-0") filled in."""
        data = form_data(self.page())
        set_fields(data, prefix, **fields)
        response = self.client.post(self.url, data)
        assert response.status_code in (200, 302), response.status_code
        return response


def errors_of(response) -> str:
    """Every error the admin shows on the page."""
    messages = []
    for inline in response.context["inline_admin_formsets"]:
        for form in inline.formset.forms:
            messages += [str(e) for errors in form.errors.values() for e in errors]
    messages += [str(e) for errors in response.context["adminform"].form.errors.values()
                 for e in errors]
    return " ".join(messages)


def test_nurse_logs_a_complete_session_through_the_admin(client, nurse, clinician):
    client.force_login(nurse)
    course = CourseFactory(responsible_clinician=clinician)
    add = client.get(admin_url(TreatmentSession, "add"))
    assert add.status_code == 200
    scheduled = (timezone.now() - timedelta(hours=3)).replace(second=0, microsecond=0)
    data = {"patient": course.patient.pk, "course": course.pk, "clinician": clinician.pk,
            "scheduled_at_0": timezone.localtime(scheduled).strftime("%Y-%m-%d"),
            "scheduled_at_1": timezone.localtime(scheduled).strftime("%H:%M:%S")}
    response = client.post(admin_url(TreatmentSession, "add"), data)
    assert response.status_code == 302, response.context and errors_of(response)
    session = TreatmentSession.objects.get(course=course)
    logger = AdminSessionLogger(client, session)

    for prefix, data in (("consultation-0", consultation_data(phq9_item_2=3)),
                         ("evaluation-0", evaluation_data()),
                         ("expectation_setting-0", expectations_data())):
        response = logger.submit(prefix, **data)
        assert response.status_code == 302, errors_of(response) or response.content.decode()
    first_dose = timezone.now() - timedelta(minutes=130)
    response = logger.submit("administration-0", drug="ketamine", route="iv", dose_mg="40",
                             started_at=first_dose, lot_number="LOT-7", administered_by="")
    assert response.status_code == 302, errors_of(response)

    # vitals and a side effect during monitoring, each added on the same page
    response = logger.submit("vital_signs-2-0", measured_at=first_dose + timedelta(minutes=40),
                             phase="post_dose_40", systolic_mmhg=170, diastolic_mmhg=95,
                             heart_rate_bpm=88, spo2_percent=97)
    assert response.status_code == 302, errors_of(response)
    response = logger.submit("side_effects-2-0", symptom=symptom("Dissociation").pk,
                             severity="moderate", onset_at=first_dose + timedelta(minutes=10),
                             intervention="reassurance")
    assert response.status_code == 302, errors_of(response)
    observation = SideEffectObservation.objects.get(session=session)
    # the resolution is recorded later, on the same row
    response = logger.submit("side_effects-0",
                             resolved_at=first_dose + timedelta(minutes=50))
    assert response.status_code == 302, errors_of(response)
    observation.refresh_from_db()
    assert observation.resolved_at is not None

    response = logger.submit("monitoring-0", discharged_at=timezone.now(),
                             discharge_criteria_met=True, cadss_score=14, moaas_score=5,
                             discharged_with="Partner")
    assert response.status_code == 302, errors_of(response)

    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.COMPLETED
    assert session.consultation.recorded_by == nurse
    assert session.administration.dose_mg_per_kg > 0
    vital = VitalSign.objects.get(session=session)
    assert [f["code"] for f in vital.flags] == ["systolic_rise"]
    final = logger.page().content.decode()
    assert "Done" in final and "systolic" in final.lower()


def test_admin_shows_refused_administration_as_a_form_error(client, nurse, session, advance):
    advance(session, through="expectations", evaluation={"decision": "held"})
    client.force_login(nurse)
    response = AdminSessionLogger(client, session).submit(
        "administration-0", drug="ketamine", route="iv", dose_mg="40",
        started_at=timezone.now(), lot_number="LOT-7")
    assert response.status_code == 200
    assert "held at the medical evaluation" in errors_of(response)
    assert "held at the medical evaluation" in response.content.decode()
    session.refresh_from_db()
    assert session.step_record("administration") is None


def test_a_refused_evaluation_corrected_on_the_page_it_left_saves(client, nurse, session,
                                                                  advance):
    """The page re-rendered after a refusal is what the nurse corrects and posts again: it
    keeps the steps before as they were (editable, with their versions) and the step reached,
    so the correction saves instead of a false "changed by … after you opened it"."""
    advance(session, through="consultation")
    client.force_login(nurse)
    logger = AdminSessionLogger(client, session)
    refused = logger.submit("evaluation-0", **evaluation_data(systolic_mmhg=164,
                                                              diastolic_mmhg=98))
    assert "cannot be cleared" in errors_of(refused)
    page = refused.content.decode()
    assert 'name="consultation-0-mental_health_history"' in page  # not turned read-only
    assert "Medical evaluation" in page.split("field-current_step_column")[-1][:400]

    data = form_data(refused)
    set_fields(data, "evaluation-0", systolic_mmhg=128, diastolic_mmhg=82)
    corrected = client.post(logger.url, data)

    assert corrected.status_code == 302, errors_of(corrected)
    session.refresh_from_db()
    assert session.evaluation.systolic_mmhg == 128
    assert session.consultation.version == 1


def test_a_frozen_step_posted_back_as_rendered_does_not_block_the_next(client, nurse, session,
                                                                       advance):
    """After the evaluation the consultation is read-only; its version still travels with the
    page, so saving the expectations is not refused as a conflict."""
    advance(session, through="evaluation")
    client.force_login(nurse)
    response = AdminSessionLogger(client, session).submit("expectation_setting-0",
                                                          **expectations_data())
    assert response.status_code == 302, errors_of(response)
    session.refresh_from_db()
    assert session.expectation_setting.consent_signed


def test_admin_refuses_nurse_clearing_a_blocked_patient_on_the_decision_field(
        client, nurse, session, advance):
    advance(session, through="consultation")
    client.force_login(nurse)
    response = AdminSessionLogger(client, session).submit(
        "evaluation-0", **evaluation_data(systolic_mmhg=175, diastolic_mmhg=104))
    assert response.status_code == 200
    evaluation_form = next(i.formset.forms[0] for i in response.context["inline_admin_formsets"]
                           if i.formset.prefix == "evaluation")
    assert "cannot be cleared" in " ".join(evaluation_form.errors["decision"])
    session.refresh_from_db()
    assert session.step_record("evaluation") is None


def test_admin_refuses_monitoring_closed_too_early(client, nurse, session, advance):
    advance(session, through="administration",
            administration={"started_at": timezone.now() - timedelta(minutes=30)})
    client.force_login(nurse)
    response = AdminSessionLogger(client, session).submit(
        "monitoring-0", discharged_at=timezone.now(), discharge_criteria_met=True,
        cadss_score=5, moaas_score=5, discharged_with="Friend")
    assert response.status_code == 200
    assert "the minimum is 120" in errors_of(response)
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.IN_PROGRESS


def test_admin_rejects_out_of_range_vitals_with_field_errors(client, nurse, session, advance):
    advance(session, through="consultation")
    client.force_login(nurse)
    response = AdminSessionLogger(client, session).submit(
        "evaluation-0", **evaluation_data(systolic_mmhg=400, spo2_percent=120))
    assert response.status_code == 200
    text = errors_of(response)
    assert "less than or equal to 300" in text and "less than or equal to 100" in text


def test_only_the_next_step_is_offered(client, nurse, session, advance):
    advance(session, through="consultation")
    client.force_login(nurse)
    prefixes = [i.formset.prefix for i in
                AdminSessionLogger(client, session).page().context["inline_admin_formsets"]]
    assert "consultation" in prefixes and "evaluation" in prefixes
    assert "expectation_setting" not in prefixes and "administration" not in prefixes


def test_cancel_action_asks_for_a_reason_then_cancels(client, nurse, session):
    client.force_login(nurse)
    url = admin_url(TreatmentSession, "changelist")
    form = client.post(url, {"action": "cancel_sessions", "_selected_action": [session.pk]})
    assert form.status_code == 200 and "reason" in form.content.decode()
    done = client.post(url, {"action": "cancel_sessions", "_selected_action": [session.pk],
                             "apply": "1", "reason": "Patient has flu"}, follow=True)
    assert "1 session(s) cancelled" in done.content.decode()
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.CANCELLED

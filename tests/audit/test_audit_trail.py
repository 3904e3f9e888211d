"""Every change to a clinical or patient record keeps a version (who, when, what changed),
visible in the admin; every view of a patient's record in the admin writes an access-log row
with no clinical value in it."""

import pytest
from django.urls import reverse
from simple_history.models import registered_models

from audit.models import PatientAccess
from patients.models import Condition, Medication, Patient
from sessions.models import (
    Administration,
    Consultation,
    Evaluation,
    ExpectationSetting,
    FollowUp,
    Monitoring,
    SideEffectObservation,
    TreatmentCourse,
    TreatmentSession,
    VitalSign,
)
from tests.admin_forms import form_data
from tests.factories import PatientFactory, UserFactory, consultation_data

pytestmark = pytest.mark.django_db

CLINICAL_AND_PATIENT_MODELS = {
    Patient, Condition, Medication, TreatmentCourse, TreatmentSession, Consultation, Evaluation,
    ExpectationSetting, Administration, Monitoring, VitalSign, SideEffectObservation, FollowUp,
}


def test_every_clinical_and_patient_model_keeps_its_history():
    with_history = set(registered_models.values())  # the models given HistoricalRecords
    assert with_history >= CLINICAL_AND_PATIENT_MODELS


def test_patient_edit_in_admin_records_who_when_and_what_changed(client, nurse):
    patient = PatientFactory(phone="+1 555 0100")
    client.force_login(nurse)
    url = reverse("admin:patients_patient_change", args=(patient.pk,))
    data = form_data(client.get(url))
    data["phone"] = "+1 555 0199"
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]

    latest, previous = patient.history.order_by("-history_id")[:2]
    assert latest.history_user == nurse
    assert latest.history_type == "~"
    delta = latest.diff_against(previous)
    assert [(c.field, c.old, c.new) for c in delta.changes if c.field == "phone"] == [
        ("phone", "+1 555 0100", "+1 555 0199")]

    history_page = client.get(reverse("admin:patients_patient_history", args=(patient.pk,)))
    assert history_page.status_code == 200
    page = history_page.content.decode()
    assert "+1 555 0199" in page and nurse.username in page


def test_step_recorded_through_the_admin_is_versioned_with_its_recorder(client, nurse, session):
    client.force_login(nurse)
    url = reverse("admin:treatment_sessions_treatmentsession_change", args=(session.pk,))
    data = form_data(client.get(url))
    for name, value in consultation_data().items():
        key = f"consultation-0-{name}"
        if isinstance(value, bool):
            if value:
                data[key] = "on"
            else:
                data.pop(key, None)
        else:
            data[key] = str(value)
    response = client.post(url, data)
    assert response.status_code == 302
    consultation = Consultation.objects.get(session=session)
    record = consultation.history.get()
    assert record.history_type == "+" and record.history_user == nurse
    assert record.phq9_item_1 == 1


def test_viewing_a_patient_record_writes_an_access_log_row_without_clinical_values(
        client, nurse, session, advance):
    advance(session, through="evaluation", evaluation={"screening_notes": "SECRET-NOTE"})
    client.force_login(nurse)
    client.get(reverse("admin:patients_patient_change", args=(session.patient.pk,)),
               REMOTE_ADDR="198.51.100.7")
    client.get(reverse("admin:treatment_sessions_treatmentsession_change", args=(session.pk,)),
               REMOTE_ADDR="198.51.100.7")
    client.get(reverse("admin:treatment_sessions_evaluation_change",
                       args=(session.evaluation.pk,)), REMOTE_ADDR="198.51.100.7")

    rows = list(PatientAccess.objects.order_by("id"))
    assert [(r.user, r.patient, r.ip_address) for r in rows] == [
        (nurse, session.patient, "198.51.100.7")] * 3
    assert [r.what for r in rows] == [
        f"admin record: patient {session.patient.pk}",
        f"admin record: treatment session {session.pk}",
        f"admin record: evaluation {session.evaluation.pk}",
    ]
    for row in rows:
        # Every stored value but the access time (whose microseconds could hold any digits).
        stored = " ".join(str(getattr(row, f.attname)) for f in PatientAccess._meta.fields
                          if f.get_internal_type() != "DateTimeField")
        assert "SECRET-NOTE" not in stored  # no notes
        assert "122" not in stored  # no vitals


def test_a_refused_view_writes_no_access_log_row(client):
    frontdesk = UserFactory(username="desk1", role="Front desk")
    patient = PatientFactory()
    evaluation_list = reverse("admin:treatment_sessions_evaluation_changelist")
    client.force_login(frontdesk)
    assert client.get(evaluation_list).status_code == 403
    assert client.get(reverse("admin:patients_patient_change", args=(patient.pk,))
                      ).status_code == 200
    assert PatientAccess.objects.count() == 1  # the page it may see, not the refused one


def test_history_versions_cannot_be_reverted_through_the_admin(client, nurse):
    """django-simple-history's version page would save a POST; here it is read-only."""
    patient = PatientFactory(first_name="Original")
    patient.first_name = "Changed"
    patient.save()
    first = patient.history.order_by("history_id").first()
    client.force_login(nurse)
    url = reverse("admin:patients_patient_simple_history", args=(patient.pk, first.history_id))
    assert client.get(url).status_code == 200
    data = form_data(client.get(reverse("admin:patients_patient_change", args=(patient.pk,))))
    data["first_name"] = "Original"
    assert client.post(url, data).status_code == 405
    patient.refresh_from_db()
    assert patient.first_name == "Changed"

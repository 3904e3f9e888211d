"""Every admin change page of a clinical record saves unchanged when submitted exactly as a
browser would submit it.

The form data is read from the rendered HTML (what the page actually carries), never from the
Django form objects: a field the form expects but the page does not render — a hidden
``version`` dropped with a frozen section, a default a widget does not show — is then missing
from the POST exactly as it is from a nurse's browser, and the save is refused or changes data.
One realistic row per clinical model and, for the session, one per state of the workflow.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone

from patients.models import Patient
from sessions import services
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
    VitalSign,
)
from tests.admin_forms import browser_form_data
from tests.factories import (
    ConditionFactory,
    CourseFactory,
    MedicationFactory,
    PatientFactory,
    symptom,
)
from tests.pages import complete_session

pytestmark = pytest.mark.django_db

CLINICAL_APPS = ("patients", "treatment_sessions")


def test_the_form_is_read_as_a_browser_submits_it():
    html = """
    <form id="logout-form" method="post"><input type="hidden" name="other" value="x"></form>
    <form id="thing_form" method="post">
      <input type="hidden" name="version" value="3">
      <input type="text" name="plain">
      <input type="checkbox" name="ticked" checked><input type="checkbox" name="unticked">
      <input type="radio" name="decision" value="" checked>
      <input type="radio" name="decision" value="held">
      <select name="first"><option value="a">A</option><option value="b">B</option></select>
      <select name="chosen"><option value="a">A</option><option selected>B &amp; C</option>
      </select>
      <select name="many" multiple><option value="1" selected><option value="2">
        <option value="3" selected></select>
      <textarea name="notes">
Line one &lt;b&gt;</textarea>
      <input type="text" name="off" value="y" disabled>
      <input type="submit" name="_continue" value="Save">
    </form>"""

    assert browser_form_data(html, "thing_form") == {
        "version": ["3"], "plain": [""], "ticked": ["on"], "decision": [""],
        "first": ["a"], "chosen": ["B & C"], "many": ["1", "3"], "notes": ["Line one <b>"],
    }


# --- the database's half: everything clinical, to compare before and after ----------------

def clinical_models():
    return [model for label in CLINICAL_APPS
            for model in apps.get_app_config(label).get_models()]


def database_snapshot(*, ignore: dict | None = None) -> dict:
    """Every row of every clinical table (history tables included): `ignore` maps a model to
    the columns left out of the comparison."""
    ignore = ignore or {}
    snapshot = {}
    for model in clinical_models():
        left_out = ignore.get(model, ())
        snapshot[model._meta.label] = [
            {k: v for k, v in row.items() if k not in left_out}
            for row in model._default_manager.order_by("pk").values()
        ]
    return snapshot


def differences(before: dict, after: dict) -> list[str]:
    found = []
    for label, rows in before.items():
        if rows == after[label]:
            continue
        if len(rows) != len(after[label]):
            found.append(f"{label}: {len(rows)} rows before, {len(after[label])} after")
            continue
        for old, new in zip(rows, after[label], strict=True):
            changed = {k: (old[k], new[k]) for k in old if old[k] != new[k]}
            if changed:
                found.append(f"{label} {old.get('id', old.get('history_id'))}: {changed}")
    return found


# --- one realistic row of every clinical model -----------------------------------------------

@dataclass(frozen=True)
class Case:
    build: Callable  # (world) -> the object whose change page is submitted
    as_nurse: bool = False


class World:
    """Builds the rows through the services, the way the clinic writes them."""

    def __init__(self, advance, nurse, clinician):
        self.advance, self.nurse, self.clinician = advance, nurse, clinician

    def patient(self):
        patient = PatientFactory(phone="+1 555 010 0199", emergency_contact_name="Jo Synthetic",
                                 emergency_contact_phone="+1 555 010 0123", sex="female")
        ConditionFactory(patient=patient, kind="anxiety", notes="Since 2015")
        MedicationFactory(patient=patient, name="Sertraline", dose="50 mg daily")
        course = CourseFactory(patient=patient, responsible_clinician=self.clinician)
        services.session_schedule(patient=patient, course=course, clinician=self.clinician,
                                  scheduled_at=timezone.now() + timedelta(days=2))
        return patient

    def course(self):
        return CourseFactory(patient=self.patient(), responsible_clinician=self.clinician,
                             planned_sessions=6)

    def session(self, through: str | None = None):
        course = CourseFactory(patient=self.patient(), responsible_clinician=self.clinician)
        session = services.session_schedule(patient=course.patient, course=course,
                                            clinician=self.clinician,
                                            scheduled_at=timezone.now() - timedelta(hours=3))
        if through:
            self.advance(session, through=through)
        return session

    def session_dosed(self):
        """Dosed, with vitals and a side effect, monitoring still open."""
        session = self.session()
        started_at = timezone.now() - timedelta(minutes=50)
        self.advance(session, through="administration",
                     administration={"started_at": started_at})
        for minutes, phase, systolic in ((-5, "pre_dose", 124), (40, "post_dose_40", 146)):
            services.vital_sign_record(session=session, recorded_by=self.nurse,
                                       measured_at=started_at + timedelta(minutes=minutes),
                                       phase=phase, systolic_mmhg=systolic, diastolic_mmhg=80,
                                       heart_rate_bpm=78, spo2_percent=97)
        services.side_effect_record(session=session, recorded_by=self.nurse,
                                    symptom=symptom("Dissociation"), severity="mild",
                                    onset_at=started_at + timedelta(minutes=10),
                                    intervention="reassurance", notes="Settled with talking.")
        return session

    def session_completed(self):
        return complete_session(self.session(), advance=self.advance, nurse=self.nurse)

    def follow_up(self):
        course = CourseFactory(patient=self.patient(), responsible_clinician=self.clinician)
        services.course_end(course=course)
        follow_up = FollowUp.objects.filter(course=course).order_by("due_on").first()
        services.follow_up_record(follow_up=follow_up, recorded_by=self.nurse, status="done",
                                  contacted_at=timezone.now() - timedelta(hours=1),
                                  method="phone", notes="Some trouble sleeping.")
        services.side_effect_record(follow_up=follow_up, recorded_by=self.nurse,
                                    symptom=symptom("Insomnia", "withdrawal_sleep"),
                                    severity="mild",
                                    onset_at=timezone.now() - timedelta(days=1),
                                    intervention="none")
        return follow_up

    def reminder(self):
        return Reminder.objects.filter(patient=self.patient()).first()

    def symptom_type(self):
        return SymptomType.objects.get(name="Nausea", category="acute")

    def completed_record(self, model):
        session = self.session_completed()
        return model._default_manager.filter(session=session).order_by("pk").first()


SESSION_STATES = {
    "scheduled": lambda w: w.session(),
    "after-consultation": lambda w: w.session(through="consultation"),
    "after-evaluation": lambda w: w.session(through="evaluation"),
    "after-expectations": lambda w: w.session(through="expectations"),
    "after-administration-with-vitals-and-side-effects": lambda w: w.session_dosed(),
    "completed": lambda w: w.session_completed(),
}
EDITABLE_CASES = {
    "Patient": Case(lambda w: w.patient()),
    "Patient-as-nurse": Case(lambda w: w.patient(), as_nurse=True),
    "TreatmentCourse": Case(lambda w: w.course()),
    **{f"TreatmentSession-{state}{role}": Case(build, as_nurse=bool(role))
       for state, build in SESSION_STATES.items() for role in ("", "-as-nurse")},
    "FollowUp": Case(lambda w: w.follow_up()),
    "FollowUp-as-nurse": Case(lambda w: w.follow_up(), as_nurse=True),
    "Reminder": Case(lambda w: w.reminder()),
    "SymptomType": Case(lambda w: w.symptom_type()),
}
# Recorded on their session's page, never edited on their own: the admin has no change
# permission for them (sessions.admin.FrozenRecordAdmin), so their page offers nothing to post.
READ_ONLY_CASES = {
    model.__name__: Case(lambda w, model=model: w.completed_record(model))
    for model in (Consultation, Evaluation, ExpectationSetting, Administration, Monitoring,
                  VitalSign, SideEffectObservation)
}
# These admins save the record even when nothing changed (Django's default save_model): the
# version and updated_at move and a history row is written. Nothing else may change.
# (SymptomType is resaved too, but has no version, timestamp or history to show it.)
ALWAYS_WRITES = {Patient: ("version", "updated_at"), TreatmentCourse: ("updated_at",),
                 Reminder: ("updated_at",)}


def test_every_clinical_model_in_the_admin_has_a_round_trip_case():
    covered = {case.split("-")[0] for case in (*EDITABLE_CASES, *READ_ONLY_CASES)}
    registered = {model.__name__ for model in admin.site._registry
                  if model._meta.app_label in CLINICAL_APPS}
    assert registered - covered == set(), "add a round-trip case for each of these"


@pytest.fixture
def world(advance, nurse, clinician):
    return World(advance, nurse, clinician)


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def shown_messages(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in response.context["messages"]] if response.context else []


def page_errors(response) -> str:
    """The errors a person sees on a re-rendered change page."""
    context = response.context
    found = [str(e) for errors in context["adminform"].form.errors.values() for e in errors]
    for inline in context["inline_admin_formsets"]:
        found += [str(e) for e in inline.formset.non_form_errors()]
        for form in inline.formset.forms:
            found += [f"{form.prefix}: {e}" for errors in form.errors.values() for e in errors]
    return "; ".join(found)


@pytest.mark.parametrize("case", list(EDITABLE_CASES))
def test_change_page_submitted_as_rendered_saves_and_changes_nothing(
        client, superuser, nurse, world, case):
    spec = EDITABLE_CASES[case]
    obj = spec.build(world)
    client.force_login(nurse if spec.as_nurse else superuser)
    url = change_url(obj)
    page = client.get(url)
    assert page.status_code == 200
    data = browser_form_data(page.content.decode(), f"{obj._meta.model_name}_form")
    data["_save"] = ["Save"]
    model, ignore = type(obj), {}
    history = model.history.model if hasattr(model, "history") else None
    if model in ALWAYS_WRITES:
        ignore[model] = ALWAYS_WRITES[model]
        if history is not None:
            ignore[history] = ("history_id", "history_date", "history_user_id",
                               "history_change_reason", "history_type", *ALWAYS_WRITES[model])
    before = database_snapshot(ignore=ignore)

    response = client.post(url, data)

    assert response.status_code == 302, f"not saved: {page_errors(response)}"
    landed = client.get(response["Location"])
    errors = [text for level, text in shown_messages(landed) if level >= messages.WARNING]
    assert response["Location"] != url and not errors, f"save refused: {errors}"
    after = database_snapshot(ignore=ignore)
    if model in ALWAYS_WRITES and history is not None:
        # The resave adds one history row of the same values; the rows already there stay.
        label = history._meta.label
        assert len(after[label]) - len(before[label]) <= 1
        after[label] = after[label][:len(before[label])]
    assert differences(before, after) == []


@pytest.mark.parametrize("case", list(READ_ONLY_CASES))
def test_read_only_record_page_offers_no_save_and_refuses_a_post(client, superuser, world,
                                                                  case):
    obj = READ_ONLY_CASES[case].build(world)
    client.force_login(superuser)
    url = change_url(obj)
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    data = browser_form_data(html, f"{obj._meta.model_name}_form")
    data["_save"] = ["Save"]
    before = database_snapshot()

    assert client.post(url, data).status_code == 403
    assert differences(before, database_snapshot()) == []

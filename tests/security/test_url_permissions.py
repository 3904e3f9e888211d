"""Every URL pattern of the project (every admin URL included), requested as anonymous and as
each role, answers as the permission matrix in README says: shown, or refused on the server.
Inside the pages a role may open, the lists, filters, inlines, searches and autocomplete show
only what the matrix lets it read (``test_inside_the_pages_…``).

The expectation table below is written out by hand, independently of sessions/roles.py. A URL
the table does not know fails the test with the message to add it — so pages added later are
walked too.
"""

import re
from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from patients.models import Patient
from sessions.models import STEP_CODES, Drug, Reminder, SideEffectObservation, TreatmentSession
from sessions.reminder_emails import opt_out_token
from sessions.safety import PANIC_RISK_CONDITION_KINDS
from tests.factories import UserFactory
from tests.security.dataset import ROLES, build_dataset
from tests.urlwalk import admin_model_route, walk

pytestmark = pytest.mark.django_db

FD, NURSE, CLIN, CADMIN, SUPER, ANON = ("Front desk", "Nurse", "Clinician", "Clinic admin",
                                         "superuser", "anonymous")
STAFF = frozenset({FD, NURSE, CLIN, CADMIN, SUPER})
NOBODY = frozenset()

SHOWN, DENIED, REDIRECT, METHOD_NOT_ALLOWED = "shown", "denied", "redirect", "405"


# --- the matrix, per admin model: who may open its list/pages, add, delete ---------------------
@dataclass(frozen=True)
class ModelAccess:
    view: frozenset
    add: frozenset = NOBODY
    delete: frozenset = NOBODY  # clinical records are never deleted, by anyone


CLINICAL_RECORD = ModelAccess(view=frozenset({NURSE, CLIN, SUPER}))  # steps, vitals, side effects
ADMIN_MODELS = {
    "auth.user": ModelAccess(view=frozenset({CADMIN, SUPER}), add=frozenset({CADMIN, SUPER}),
                             delete=frozenset({SUPER})),
    "auth.group": ModelAccess(view=frozenset({CADMIN, SUPER}), add=frozenset({SUPER}),
                              delete=frozenset({SUPER})),
    "patients.patient": ModelAccess(view=frozenset({FD, NURSE, CLIN, SUPER}),
                                    add=frozenset({FD, NURSE, CLIN, SUPER})),
    "treatment_sessions.treatmentsession": ModelAccess(
        view=frozenset({FD, NURSE, CLIN, SUPER}), add=frozenset({FD, NURSE, CLIN, SUPER})),
    "treatment_sessions.treatmentcourse": ModelAccess(
        view=frozenset({FD, NURSE, CLIN, SUPER}), add=frozenset({CLIN, SUPER})),
    "treatment_sessions.consultation": CLINICAL_RECORD,
    "treatment_sessions.evaluation": CLINICAL_RECORD,
    "treatment_sessions.expectationsetting": CLINICAL_RECORD,
    "treatment_sessions.administration": CLINICAL_RECORD,
    "treatment_sessions.monitoring": CLINICAL_RECORD,
    "treatment_sessions.vitalsign": CLINICAL_RECORD,
    "treatment_sessions.sideeffectobservation": CLINICAL_RECORD,
    "treatment_sessions.followup": ModelAccess(view=frozenset({NURSE, CLIN, SUPER}),
                                               add=frozenset({NURSE, CLIN, SUPER})),
    "treatment_sessions.symptomtype": ModelAccess(view=frozenset({NURSE, CLIN, CADMIN, SUPER}),
                                                  add=frozenset({CADMIN, SUPER})),
    "treatment_sessions.reminder": ModelAccess(view=frozenset({FD, NURSE, CLIN, CADMIN, SUPER})),
    "audit.patientaccess": ModelAccess(view=frozenset({CADMIN, SUPER})),
    "audit.securityevent": ModelAccess(view=frozenset({CADMIN, SUPER})),
    "axes.accessattempt": ModelAccess(view=frozenset({CADMIN, SUPER}),
                                      delete=frozenset({CADMIN, SUPER})),
    "axes.accesslog": ModelAccess(view=frozenset({SUPER}), delete=frozenset({SUPER})),
    "axes.accessfailurelog": ModelAccess(view=frozenset({SUPER}), delete=frozenset({SUPER})),
    "otp_totp.totpdevice": ModelAccess(view=frozenset({SUPER}), add=frozenset({SUPER}),
                                       delete=frozenset({SUPER})),
}


# --- every other URL, by name (or by pattern when unnamed) -------------------------------------
@dataclass(frozen=True)
class Expect:
    shown: frozenset
    otherwise: dict = field(default_factory=dict)  # role -> outcome when not shown
    default: str = DENIED
    query: str = ""

    def outcome(self, role: str) -> str:
        return SHOWN if role in self.shown else self.otherwise.get(role, self.default)


LOGGED_IN_REDIRECT = {role: REDIRECT for role in STAFF}
CLINICAL = frozenset({NURSE, CLIN, SUPER})  # README: "the five steps, vitals, side effects"
CLINICAL_POST_ONLY = Expect(shown=NOBODY, otherwise=dict.fromkeys(CLINICAL, METHOD_NOT_ALLOWED))
OTHER_URLS = {
    "admin:index": Expect(shown=STAFF),
    "admin:login": Expect(shown=frozenset({ANON}), otherwise=LOGGED_IN_REDIRECT),
    # Logging out is POST only; anonymous is sent to the index (then the login).
    "admin:logout": Expect(shown=NOBODY, default=METHOD_NOT_ALLOWED,
                           otherwise={ANON: REDIRECT}),
    "admin:password_change": Expect(shown=STAFF),
    "admin:password_change_done": Expect(shown=STAFF),
    "admin:jsi18n": Expect(shown=STAFF),
    # Searching patients while scheduling a session: the roles that may see patients.
    "admin:autocomplete": Expect(
        shown=frozenset({FD, NURSE, CLIN, SUPER}),
        query="?app_label=treatment_sessions&model_name=treatmentsession&field_name=patient"),
    # No model has a public URL: "view on site" is a 404 for everyone.
    "admin:view_on_site": Expect(shown=NOBODY),
    "admin/(?P<url>.*)$": Expect(shown=NOBODY),
    # Second factor: verify for those who have a device; anyone may enrol one.
    "security:verify": Expect(shown=frozenset({CLIN, CADMIN, SUPER}),
                              otherwise={FD: REDIRECT, NURSE: REDIRECT}),
    "security:setup": Expect(shown=STAFF),
    "security:backup_codes": Expect(shown=frozenset({CLIN, CADMIN, SUPER}),
                                    otherwise={FD: REDIRECT, NURSE: REDIRECT}),
    # --- public: a load balancer's liveness probe; a patient's signed opt-out link ----------
    "healthz": Expect(shown=STAFF | {ANON}),
    "favicon": Expect(shown=NOBODY, default=REDIRECT),  # to the static file, for everyone
    "account": Expect(shown=STAFF),
    "reminder_opt_out": Expect(shown=STAFF | {ANON}),  # a GET shows a button, changes nothing
    # --- login, logout, passwords (accounts/) ------------------------------------------------
    "login": Expect(shown=frozenset({ANON}), otherwise=LOGGED_IN_REDIRECT),
    "logout": Expect(shown=NOBODY, default=METHOD_NOT_ALLOWED),  # POST only, for everyone
    "password_change": Expect(shown=STAFF),
    "password_change_done": Expect(shown=STAFF),
    # --- clinician pages: the schedule for whoever schedules; clinical pages for nurses and
    # clinicians only; the clinic admin sees no patient records at all --------------------
    "dashboard": Expect(shown=frozenset({FD, NURSE, CLIN, SUPER})),
    "patient_search": Expect(shown=frozenset({FD, NURSE, CLIN, SUPER})),
    "patient_history": Expect(shown=CLINICAL),
    "patient_sessions_csv": Expect(shown=CLINICAL),
    "patient_side_effects_csv": Expect(shown=CLINICAL),
    "session_detail": Expect(shown=CLINICAL),
    "session_step": Expect(shown=CLINICAL),
    "rems_record": Expect(shown=CLINICAL),
    # POST-only actions: a GET is 405 for those allowed, refused for everyone else.
    "session_start": CLINICAL_POST_ONLY,
    "session_cancel": CLINICAL_POST_ONLY,
    "vital_sign_add": CLINICAL_POST_ONLY,
    "side_effect_add": CLINICAL_POST_ONLY,
    "side_effect_update": CLINICAL_POST_ONLY,
    "rems_submit": CLINICAL_POST_ONLY,
}
APP_LIST = {  # admin:app_list per app label: who sees at least one model of the app
    "auth": frozenset({CADMIN, SUPER}),
    "patients": frozenset({FD, NURSE, CLIN, SUPER}),
    "treatment_sessions": STAFF,
    "audit": frozenset({CADMIN, SUPER}),
    "axes": frozenset({CADMIN, SUPER}),
    "otp_totp": frozenset({SUPER}),
}


def _rems_session(objects):
    """An esketamine session with monitoring closed: the one whose REMS record exists."""
    session = (TreatmentSession.objects.filter(course__drug=Drug.ESKETAMINE,
                                               monitoring__isnull=False)
               .order_by("pk").first())
    assert session is not None, "seed_demo should complete an esketamine session"
    return session


def _observed_session(objects):
    observation = objects[SideEffectObservation]
    return observation.session


URL_ARGUMENTS = {  # URL name -> objects -> [kwargs], for the non-admin pages with arguments
    "reminder_opt_out": lambda o: [{"token": opt_out_token(o[Patient])}],
    "patient_history": lambda o: [{"pk": o[Patient].pk}],
    "patient_sessions_csv": lambda o: [{"pk": o[Patient].pk}],
    "patient_side_effects_csv": lambda o: [{"pk": o[Patient].pk}],
    "session_detail": lambda o: [{"pk": _rems_session(o).pk}],
    # Every step: the recorded ones (read back) and, on an open session, the next one (form).
    "session_step": lambda o: [
        {"pk": session.pk, "step": step}
        for session in (_rems_session(o), o[TreatmentSession]) for step in STEP_CODES],
    "rems_record": lambda o: [{"pk": _rems_session(o).pk}],
    "session_start": lambda o: [{"pk": o[TreatmentSession].pk}],
    "session_cancel": lambda o: [{"pk": o[TreatmentSession].pk}],
    "vital_sign_add": lambda o: [{"pk": o[TreatmentSession].pk}],
    "side_effect_add": lambda o: [{"pk": o[TreatmentSession].pk}],
    "side_effect_update": lambda o: [{"pk": _observed_session(o).pk,
                                      "observation_pk": o[SideEffectObservation].pk}],
    "rems_submit": lambda o: [{"pk": _rems_session(o).pk}],
}


def _model_expectation(model, kind) -> Expect:
    label = model._meta.label_lower
    assert label in ADMIN_MODELS, (
        f"{label} is in the admin but not in the permission matrix of "
        "tests/security/test_url_permissions.py (ADMIN_MODELS): add who may see it.")
    access = ADMIN_MODELS[label]
    if kind == "add":
        return Expect(shown=access.add)
    if kind == "delete":
        return Expect(shown=access.delete)
    if kind == "object_redirect":  # <id>/ redirects to <id>/change/, which checks
        return Expect(shown=NOBODY, default=REDIRECT, otherwise={ANON: DENIED})
    if kind == "password":  # set another user's password
        return Expect(shown=access.add)
    if kind == "record_action":  # archive/restore a patient: whoever may change patients,
        assert label == "patients.patient", label  # who are those who may see them (README)
        return Expect(shown=access.view)
    return Expect(shown=access.view)  # changelist, change, history, versions, device pages


def _admin_model_url(route, model, kind, objects) -> str:
    obj = objects[model]
    if kind == "object_redirect":  # unnamed: <id>/
        meta = model._meta
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_change",
                       args=(obj.pk,)).removesuffix("change/")
    if kind == "history_version":
        return reverse(route.name, args=(obj.pk, obj.history.order_by("history_id")
                                         .first().history_id))
    if route.kwarg_names:
        return reverse(route.name, kwargs=dict.fromkeys(route.kwarg_names, obj.pk))
    return reverse(route.name)


def concrete_requests(objects):
    """(label, url, Expect) for every URL pattern."""
    unknown = []
    for route in walk():
        model_route = admin_model_route(route)
        if model_route:
            model, kind = model_route
            yield route.key, _admin_model_url(route, model, kind, objects), \
                _model_expectation(model, kind)
        elif route.key == "admin:app_list":
            for app_label in sorted({m._meta.app_label for m in admin.site._registry}):
                assert app_label in APP_LIST, f"add app {app_label!r} to APP_LIST"
                yield (f"{route.key} {app_label}",
                       reverse(route.name, kwargs={"app_label": app_label}),
                       Expect(shown=APP_LIST[app_label]))
        elif route.key == "admin/(?P<url>.*)$":
            yield route.key, "/admin/no-such-page/", OTHER_URLS[route.key]
        elif route.key == "admin:view_on_site":
            patient = Patient.objects.first()
            url = reverse(route.name, kwargs={
                "content_type_id": ContentType.objects.get_for_model(Patient).pk,
                "object_id": patient.pk})
            yield route.key, url, OTHER_URLS[route.key]
        elif route.key in OTHER_URLS:
            expect = OTHER_URLS[route.key]
            if not route.kwarg_names:
                yield route.key, reverse(route.name) + expect.query, expect
                continue
            assert route.key in URL_ARGUMENTS, (
                f"give {route.key} its URL arguments in URL_ARGUMENTS")
            for kwargs in URL_ARGUMENTS[route.key](objects):
                yield route.key, reverse(route.name, kwargs=kwargs) + expect.query, expect
        else:
            unknown.append(route)
    assert not unknown, (
        "URL patterns with no expected answer per role — add each to OTHER_URLS in "
        "tests/security/test_url_permissions.py (and its URL arguments if it takes any): "
        + ", ".join(f"{r.key} ({r.route})" for r in unknown))


def outcome_of(response) -> str:
    status = response.status_code
    if status == 200:
        return SHOWN
    if status in (403, 404):
        return DENIED
    if status == 405:
        return METHOD_NOT_ALLOWED
    if status in (301, 302):
        location = response["Location"]
        if location.startswith((reverse("admin:login"), "/accounts/login/")):
            return DENIED
        return REDIRECT
    return f"status {status}"


@pytest.fixture
def clients():
    result = {ANON: Client()}
    for role in ROLES[1:]:
        user = (UserFactory(username="walk-root", is_superuser=True) if role == SUPER
                else UserFactory(username=f"walk-{role.lower().replace(' ', '-')}", role=role))
        client = Client()
        client.force_login(user)
        result[role] = client
    return result


def test_every_url_answers_each_role_as_the_permission_matrix_says(clients):
    objects = build_dataset()
    mismatches, checks = [], 0
    for label, url, expect in concrete_requests(objects):
        for role in ROLES:
            actual = outcome_of(clients[role].get(url))
            checks += 1
            if actual != expect.outcome(role):
                mismatches.append(f"{label} {url} as {role}: expected {expect.outcome(role)}, "
                                  f"got {actual}")
    print(f"URL x role checks: {checks}")
    assert not mismatches, "\n".join(mismatches)
    assert checks >= 140 * len(ROLES)


# --- inside the pages: lists, filters, inlines, search and autocomplete ------------------------
# A page a role may open can still show what the role may not read. README: a clinician safety
# alert (a severe side effect, a self-harm answer) and what caused a reminder are clinical, and
# so are risk flags; front desk and the clinic admin see the patients' own reminders only, and
# no flag. Each row: a request, the answer per role, the rows of the admin list per role, and
# texts found on the page by the roles that may read them and by no one else.
ALERT_READERS = CLINICAL  # nurse, clinician, superuser
REMINDER_READERS = STAFF  # README: reminders (outbox) V for every staff role
RISK_LABELS = ("Panic risk", "Cardiovascular risk", "Interaction risk")


@dataclass(frozen=True)
class Inside:
    url: str
    shown: frozenset  # answered 200; DENIED for every other role unless `otherwise` says
    rows: dict = field(default_factory=dict)  # role -> rows in the admin list (if a list)
    clinical_text: tuple = ()  # on the page for ALERT_READERS, nowhere for anyone else
    otherwise: dict = field(default_factory=dict)

    def outcome(self, role: str) -> str:
        return SHOWN if role in self.shown else self.otherwise.get(role, DENIED)


def _rows(roles_rows: dict) -> dict:
    return {role: count for roles, count in roles_rows.items() for role in roles}


def _list_rows(html: str) -> int:
    table = re.search(r'<table id="result_list">.*?</table>', html, re.S)
    return len(re.findall(r"<tr[ >]", table.group(0))) - 1 if table else 0


def inside_requests(objects) -> list[Inside]:
    self_harm = Reminder.objects.get(kind=Reminder.Kind.CLINICIAN_ALERT,
                                     cause__startswith="consultation:")
    severe = Reminder.objects.get(kind=Reminder.Kind.CLINICIAN_ALERT,
                                  cause__startswith="observation:")
    own = objects[Reminder]  # a patient's own reminder
    assert own.kind != Reminder.Kind.CLINICIAN_ALERT
    changelist = reverse("admin:treatment_sessions_reminder_changelist")
    alert_change = "admin:treatment_sessions_reminder_change"
    not_readers = {FD: REDIRECT, CADMIN: REDIRECT}  # "doesn't exist", as for an unknown id
    panic_patients = Patient.objects.active().filter(
        conditions__kind__in=PANIC_RISK_CONDITION_KINDS, conditions__is_active=True,
    ).distinct().count()
    panic_disorder = Patient.objects.filter(conditions__kind="panic_disorder").distinct().count()
    everyone = Patient.objects.active().count()
    assert 0 < panic_patients < everyone and panic_disorder > 0
    return [
        # The reminder list: filtered by kind, by cause (a plain field lookup Django allows
        # without a list filter), searched by cause.
        Inside(changelist + "?kind__exact=clinician_alert", shown=REMINDER_READERS,
               rows=_rows({ALERT_READERS: 2, frozenset({FD, CADMIN}): 0}),
               clinical_text=("Clinician safety alert",)),
        Inside(changelist + "?cause__startswith=consultation", shown=REMINDER_READERS,
               rows=_rows({ALERT_READERS: 1, frozenset({FD, CADMIN}): 0})),
        Inside(changelist + "?q=consultation", shown=REMINDER_READERS,
               rows=_rows({ALERT_READERS: 1, frozenset({FD, CADMIN}): 0})),
        Inside(changelist + "?q=" + own.patient.mrn, shown=REMINDER_READERS,
               rows=_rows({ALERT_READERS: own.patient.reminders.count(),
                           frozenset({FD, CADMIN}): own.patient.reminders.exclude(
                               kind=Reminder.Kind.CLINICIAN_ALERT).count()})),
        # An alert's own pages: the cause and the observation it names.
        Inside(reverse(alert_change, args=[self_harm.pk]), shown=ALERT_READERS,
               otherwise=not_readers, clinical_text=(self_harm.cause,)),
        Inside(reverse(alert_change, args=[severe.pk]), shown=ALERT_READERS,
               otherwise=not_readers,
               clinical_text=(severe.cause, "Heightened anxiety (Severe)")),
        Inside(reverse("admin:treatment_sessions_reminder_history", args=[severe.pk]),
               shown=ALERT_READERS, otherwise=not_readers),
        # A patient's own reminder: shown to all, its cause to the clinical roles only.
        Inside(reverse(alert_change, args=[own.pk]), shown=REMINDER_READERS,
               clinical_text=(own.cause,)),
        # The reminder inlines of the patient's and the session's admin pages.
        Inside(reverse("admin:patients_patient_change", args=[self_harm.patient_id]),
               shown=frozenset({FD, NURSE, CLIN, SUPER}),
               clinical_text=("Clinician safety alert",)),
        Inside(reverse("admin:treatment_sessions_treatmentsession_change",
                       args=[self_harm.session_id]),
               shown=frozenset({FD, NURSE, CLIN, SUPER}),
               clinical_text=("Clinician safety alert",)),
        # The dashboard's failed reminders (the test fails the self-harm alert's send).
        Inside(reverse("dashboard"), shown=frozenset({FD, NURSE, CLIN, SUPER}),
               clinical_text=("Clinician safety alert",)),
        # The patient search: no flag shown, no filtering by one (the parameter is ignored).
        Inside(reverse("patient_search") + "?risk=panic", shown=frozenset({FD, NURSE, CLIN, SUPER}),
               clinical_text=RISK_LABELS,
               rows=_rows({ALERT_READERS: panic_patients, frozenset({FD}): everyone})),
        # The admin's patient list filtered by condition: a lookup front desk may not make.
        Inside(reverse("admin:patients_patient_changelist") + "?conditions__kind=panic_disorder",
               shown=frozenset({NURSE, CLIN, SUPER}), otherwise={FD: "status 400"},
               rows=_rows({ALERT_READERS: panic_disorder})),
        # Scheduling's patient autocomplete: names, never a flag.
        Inside(reverse("admin:autocomplete") + "?app_label=treatment_sessions&model_name="
               f"treatmentsession&field_name=patient&term={self_harm.patient.last_name}",
               shown=frozenset({FD, NURSE, CLIN, SUPER})),
    ]


def _search_rows(html: str) -> int:
    body = re.search(r'<table class="table table-hover" id="results">.*?</table>', html, re.S)
    return len(re.findall(r"<tr>", body.group(0))) - 1 if body else 0


def test_inside_the_pages_each_role_sees_only_what_the_matrix_allows(clients):
    objects = build_dataset()
    Reminder.objects.filter(kind=Reminder.Kind.CLINICIAN_ALERT,
                            cause__startswith="consultation:").update(
        status=Reminder.Status.FAILED, last_error="SMTP 550: mailbox unavailable")
    mismatches = []
    for inside in inside_requests(objects):
        for role in ROLES:
            response = clients[role].get(inside.url)
            actual = outcome_of(response)
            if actual != inside.outcome(role):
                mismatches.append(f"{inside.url} as {role}: expected {inside.outcome(role)}, "
                                  f"got {actual}")
                continue
            if actual != SHOWN:
                continue
            html = response.content.decode()
            if role in inside.rows:
                rows = (_search_rows(html) if inside.url.startswith(reverse("patient_search"))
                        else _list_rows(html))
                if rows != inside.rows[role]:
                    mismatches.append(f"{inside.url} as {role}: {rows} rows, expected "
                                      f"{inside.rows[role]}")
            for text in inside.clinical_text:
                if (text in html) != (role in ALERT_READERS):
                    mismatches.append(f"{inside.url} as {role}: {text!r} "
                                      f"{'missing' if role in ALERT_READERS else 'shown'}")
            if role not in ALERT_READERS:
                for text in ("consultation:", "observation:", "Heightened anxiety", *RISK_LABELS):
                    if text in html:
                        mismatches.append(f"{inside.url} as {role}: {text!r} shown")
    assert not mismatches, "\n".join(mismatches)


def test_an_alert_hidden_from_a_role_answers_as_an_id_that_does_not_exist(clients):
    build_dataset()
    alert = Reminder.objects.filter(kind=Reminder.Kind.CLINICIAN_ALERT).first()
    unknown = Reminder.objects.order_by("-pk").first().pk + 1000
    for role in (FD, CADMIN):
        messages = []
        for pk in (alert.pk, unknown):
            answer = clients[role].get(reverse("admin:treatment_sessions_reminder_change",
                                               args=[pk]), follow=True)
            assert answer.redirect_chain[-1:] == [(reverse("admin:index"), 302)], (role, pk)
            messages += [str(m).replace(str(pk), "<id>") for m in answer.context["messages"]]
        assert messages[0] == messages[1] and "doesn’t exist" in messages[0], messages

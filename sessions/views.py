"""Clinician pages for sessions: the dashboard, the session page, one page per step, the REMS
monitoring record. Thin: reads come from selectors, writes go through services, and a refusal
(WorkflowError or any ValidationError) is shown on the form — never a 500."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from audit.services import patient_access_record
from audit.versioning import stale_message
from clinic.permissions import CLINICAL_VIEW, requires
from sessions import safety, selectors, services
from sessions.forms import (
    STEP_FORMS,
    CancelForm,
    RemsSubmitForm,
    SideEffectForm,
    SideEffectUpdateForm,
    VitalSignForm,
    add_service_error,
)
from sessions.models import STEP_CODES, STEP_LABELS, Drug, SideEffectObservation

STEP_MODELS = {"consultation": "consultation", "evaluation": "evaluation",
               "expectations": "expectationsetting", "administration": "administration",
               "monitoring": "monitoring"}
STEP_SERVICES = {
    "consultation": services.consultation_record,
    "evaluation": services.evaluation_record,
    "expectations": services.expectations_record,
    "administration": services.administration_record,
    "monitoring": services.monitoring_record,
}
SESSION_CHANGE = "treatment_sessions.change_treatmentsession"


def _can(request, permission: str) -> bool:
    return request.user.has_perm(permission)


def _log_view(request, session, what: str) -> None:
    """Access log (who opened which patient's record): every GET of a page showing it, like
    the admin's record pages. A label only, never a clinical value."""
    if request.method == "GET":
        patient_access_record(request=request, patient=session.patient,
                              what=f"{what}, session {session.pk}")


# --- dashboard -------------------------------------------------------------------------------

@requires("treatment_sessions.view_treatmentsession")
def dashboard(request):
    """Today at a glance. Front desk sees the schedule; clinical lists need clinical rights.
    Every list is bounded (DASHBOARD_LIST_SIZE rows, with how many there are in all): a
    clinic network's day must not make the page slower."""
    now, today = timezone.now(), timezone.localdate()
    limit = settings.DASHBOARD_LIST_SIZE
    clinical = request.user.has_perms(CLINICAL_VIEW)
    context = {"today": today, "clinical": clinical,
               "sessions_today": Paginator(selectors.sessions_today(today=today), limit)
               .get_page(request.GET.get("page")),
               "today_by_step": selectors.sessions_today_by_step(today=today)}
    if clinical:
        context.update(
            in_monitoring=selectors.sessions_in_monitoring(now=now, limit=limit),
            serious_side_effects=selectors.side_effects_serious_recent(now=now, limit=limit),
            rems_due=selectors.rems_due(today=today, limit=limit),
        )
    if _can(request, "treatment_sessions.view_reminder"):
        context["failed_reminders"] = selectors.reminders_failed(user=request.user,
                                                                 limit=limit)
    return render(request, "sessions/dashboard.html", context)


# --- the session page ------------------------------------------------------------------------

def _session_page(request, session, *, status=200, vital_form=None, side_effect_form=None,
                  update_forms=None, cancel_form=None):
    late_minutes = safety.Thresholds.from_settings().late_entry_minutes
    observations = list(session.side_effects.all())
    update_forms = update_forms or {}
    rows = [(o, update_forms.get(o.pk) or SideEffectUpdateForm(instance=o),
             selectors.entry_of(happened_at=o.onset_at, entered_at=o.created_at,
                                entered_by=o.recorded_by, late_entry_minutes=late_minutes))
            for o in observations]
    entries = selectors.session_step_entries(session=session, late_entry_minutes=late_minutes)
    context = {
        "session": session, "patient": session.patient,
        "steps": [(code, STEP_LABELS[code], session.step_record(code), entries.get(code))
                  for code in STEP_CODES],
        "next_step": session.current_step if session.status in services.OPEN_STATUSES else None,
        "is_open": session.status in services.OPEN_STATUSES,
        "readings": selectors.session_readings(session=session,
                                               late_entry_minutes=late_minutes),
        "side_effect_rows": rows,
        "vital_form": vital_form or VitalSignForm(),
        "side_effect_form": side_effect_form or SideEffectForm(),
        "cancel_form": cancel_form or CancelForm(),
        "is_esketamine": session.course.drug == Drug.ESKETAMINE,
    }
    return render(request, "sessions/session_detail.html", context, status=status)


@requires(*CLINICAL_VIEW)
def session_detail(request, pk: int):
    session = selectors.session_get(session_id=pk)
    _log_view(request, session, "session page")
    return _session_page(request, session)


@requires(*CLINICAL_VIEW, SESSION_CHANGE)
@require_POST
def session_start(request, pk: int):
    session = selectors.session_get(session_id=pk)
    try:
        services.session_start(session=session)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Session started.")
    return redirect("session_detail", pk=pk)


@requires(*CLINICAL_VIEW, SESSION_CHANGE)
@require_POST
def session_cancel(request, pk: int):
    session = selectors.session_get(session_id=pk)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            services.session_cancel(session=session, reason=form.cleaned_data["reason"],
                                    no_show=form.cleaned_data["no_show"])
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, "Session cancelled; the steps recorded stay on record.")
            return redirect("session_detail", pk=pk)
    return _session_page(request, selectors.session_get(session_id=pk), status=400,
                         cancel_form=form)


@requires(*CLINICAL_VIEW, "treatment_sessions.add_vitalsign")
@require_POST
def vital_sign_add(request, pk: int):
    session = selectors.session_get(session_id=pk)
    form = VitalSignForm(request.POST)
    if form.is_valid():
        try:
            vital = services.vital_sign_record(session=session, recorded_by=request.user,
                                               **form.cleaned_data)
        except ValidationError as error:
            add_service_error(form, error)
        else:
            flags = " ".join(f["message"] for f in vital.flags)
            if flags:
                messages.warning(request, f"Vitals recorded, flagged: {flags}")
            else:
                messages.success(request, "Vitals recorded.")
            return redirect(reverse("session_detail", args=[pk]) + "#vitals")
    return _session_page(request, selectors.session_get(session_id=pk), status=400,
                         vital_form=form)


@requires(*CLINICAL_VIEW, "treatment_sessions.add_sideeffectobservation")
@require_POST
def side_effect_add(request, pk: int):
    session = selectors.session_get(session_id=pk)
    form = SideEffectForm(request.POST)
    if form.is_valid():
        try:
            observation = services.side_effect_record(session=session,
                                                      recorded_by=request.user,
                                                      **form.cleaned_data)
        except ValidationError as error:
            add_service_error(form, error)
        else:
            note = (" The responsible clinician is alerted."
                    if observation.needs_clinician_alert else "")
            messages.success(request, f"Side effect recorded.{note}")
            return redirect(reverse("session_detail", args=[pk]) + "#side-effects")
    return _session_page(request, selectors.session_get(session_id=pk), status=400,
                         side_effect_form=form)


@requires(*CLINICAL_VIEW, "treatment_sessions.change_sideeffectobservation")
@require_POST
def side_effect_update(request, pk: int, observation_pk: int):
    observation = get_object_or_404(SideEffectObservation, pk=observation_pk, session_id=pk,
                                    is_archived=False)
    form = SideEffectUpdateForm(request.POST, instance=observation)
    if form.is_valid():
        try:
            services.side_effect_update(observation=observation, **form.cleaned_data)
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, "Side effect updated.")
            return redirect(reverse("session_detail", args=[pk]) + "#side-effects")
    return _session_page(request, selectors.session_get(session_id=pk), status=400,
                         update_forms={observation.pk: form})


# --- one page per step -----------------------------------------------------------------------

def _step_refusal(session, step: str) -> str | None:
    """Why this step is not offered now, or None when it is the next one to record."""
    if session.status not in services.OPEN_STATUSES:
        return (f"This session is {session.get_status_display().lower()}; nothing more can be "
                "recorded on it.")
    if session.current_step == step:
        return None
    if session.step_record(step) is not None:
        return f"The {STEP_LABELS[step].lower()} is already recorded."
    try:
        services.step_check(session=session, step=step)
    except ValidationError as error:
        return " ".join(error.messages)
    return None  # pragma: no cover - step_check refuses every step but the next


def _form_for(step: str, request, session, data=None):
    form_class = STEP_FORMS[step]
    # The new record belongs to this session: the form refuses it as stale if a colleague
    # recorded the step after this page was opened (audit.forms.OneToOneVersionedModelForm).
    instance = form_class._meta.model(session=session)
    if step == "evaluation":
        return form_class(data, instance=instance,
                          can_override=_can(request, services.OVERRIDE_PERMISSION))
    if step == "administration":
        return form_class(data, instance=instance, session=session)
    return form_class(data, instance=instance)


def _evaluation_findings(session, form) -> list[safety.Finding] | None:
    """Findings for the vitals typed so far (None until they validate)."""
    data = getattr(form, "cleaned_data", {})
    if not {"systolic_mmhg", "diastolic_mmhg"} <= data.keys():
        return None
    try:
        vitals = safety.Vitals(systolic_mmhg=data["systolic_mmhg"],
                               diastolic_mmhg=data["diastolic_mmhg"],
                               heart_rate_bpm=data.get("heart_rate_bpm"),
                               spo2_percent=data.get("spo2_percent"))
    except ValueError:
        return None
    return services.evaluation_findings_for(
        session=session, vitals=vitals,
        alcohol_or_drugs_last_24h=data.get("alcohol_or_drugs_last_24h", False),
        active_psychosis=data.get("active_psychosis", False))


@requires(*CLINICAL_VIEW)
def session_step(request, pk: int, step: str):
    if step not in STEP_SERVICES:
        raise Http404("No such step.")
    if not _can(request, f"treatment_sessions.add_{STEP_MODELS[step]}"):
        raise PermissionDenied
    if request.method == "POST":
        services.session_lock(session_id=pk)
    session = selectors.session_get(session_id=pk)
    _log_view(request, session, f"step page: {step}")
    refusal = _step_refusal(session, step)
    recorded = session.step_record(step)
    if request.method == "POST" and recorded is not None:
        # Posted from a page opened before a colleague recorded this step: say who and when.
        refusal = stale_message(recorded)
    context = {"session": session, "patient": session.patient, "step": step,
               "step_label": STEP_LABELS[step], "refusal": refusal,
               # (code, label, record, entry) as on the session page, which shows the entries
               "steps": [(code, STEP_LABELS[code], session.step_record(code), None)
                         for code in STEP_CODES],
               "vitals": list(session.vital_signs.all()),
               "side_effects": list(session.side_effects.all()),
               "min_observation_minutes": safety.Thresholds.from_settings()
               .min_observation_minutes,
               "can_override": _can(request, services.OVERRIDE_PERMISSION)}
    if refusal:
        return render(request, "sessions/step.html", context,
                      status=409 if request.method == "POST" else 200)
    form = _form_for(step, request, session, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            if step == "evaluation":
                context["findings"] = _evaluation_findings(session, form)
            if step == "evaluation" and "check" in request.POST:
                context["checked"] = True
            else:
                try:
                    STEP_SERVICES[step](session=session, recorded_by=request.user,
                                        **form.cleaned_data)
                except ValidationError as error:
                    add_service_error(form, error)
                else:
                    messages.success(request, f"{STEP_LABELS[step]} recorded.")
                    return redirect("session_detail", pk=pk)
        if form.errors:
            status = 400
    context["form"] = form
    return render(request, "sessions/step.html", context, status=status)


# --- REMS monitoring record ------------------------------------------------------------------

REMS_VIEW = (*CLINICAL_VIEW, "treatment_sessions.view_monitoring")


def _rems_page(request, session, *, form=None, status=200):
    if session.course.drug != Drug.ESKETAMINE:
        raise Http404("The REMS monitoring record exists only for esketamine sessions.")
    record = selectors.rems_record_for(session=session)
    return render(request, "sessions/rems.html",
                  {"record": record, "session": session, "patient": session.patient,
                   "form": form or RemsSubmitForm(),
                   "can_submit": _can(request, "treatment_sessions.change_monitoring")},
                  status=status)


@requires(*REMS_VIEW)
def rems_record(request, pk: int):
    session = selectors.session_get(session_id=pk)
    if session.course.drug == Drug.ESKETAMINE:  # otherwise a 404: nothing shown
        _log_view(request, session, "REMS monitoring record")
    return _rems_page(request, session)


@requires(*REMS_VIEW, "treatment_sessions.change_monitoring")
@require_POST
def rems_submit(request, pk: int):
    session = selectors.session_get(session_id=pk)
    form = RemsSubmitForm(request.POST)
    if form.is_valid():
        monitoring = session.step_record("monitoring")
        if monitoring is None:
            form.add_error(None, "Monitoring is not closed yet: there is no record to submit.")
        else:
            try:
                services.monitoring_rems_submit(monitoring=monitoring,
                                                submitted_on=form.cleaned_data["submitted_on"])
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(request, "REMS monitoring record marked as submitted.")
                return redirect("rems_record", pk=pk)
    return _rems_page(request, selectors.session_get(session_id=pk), form=form, status=400)

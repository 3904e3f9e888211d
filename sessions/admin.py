"""Where staff log sessions as they happen.

The session page shows the steps already recorded plus the next one allowed; each inline saves
through its service (sessions.admin_services), so refusals are form errors, never a 500.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from audit.admin import ClinicHistoryAdmin, PatientAccessLoggedAdmin
from audit.forms import OneToOneVersionedModelForm, VersionedModelForm
from clinic.admin_lists import QuickActionCheckbox
from clinic.permissions import CLINICAL_VIEW, sees_clinician_alerts
from sessions import dispatch, reminders, roles, selectors, services
from sessions.admin_services import (
    ServiceInline,
    ServiceSavingAdmin,
    add_service_error,
)
from sessions.errors import WorkflowError
from sessions.forms import ConsentTimeFromService, drop_blank_choice
from sessions.models import (
    STEP_CODES,
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
    TreatmentSession,
    VitalSign,
)
from sessions.paginators import LargeTablePaginator

STEP_SELECT_RELATED = ("patient", "course", "clinician", "consultation", "evaluation",
                       "expectation_setting", "administration", "monitoring")


def findings_html(findings: list[dict]) -> str:
    if not findings:
        return "None"
    return format_html(
        "<ul class='findings'>{}</ul>",
        format_html_join("", "<li><strong>{}</strong>: {}</li>",
                         ((f["level"].upper(), f["message"]) for f in findings)),
    )


def limit_to_role(form: forms.ModelForm, name: str, role: roles.RecordRole) -> None:
    """Offer for `name` only those whose role allows it (and whoever the record names now)."""
    field = form.fields.get(name)
    if field is None:  # read-only on this page
        return
    field.queryset = selectors.role_choices(role=role,
                                            current_id=getattr(form.instance, f"{name}_id"))
    field.label_from_instance = roles.person_label


class NoDeleteMixin:
    def has_delete_permission(self, request, obj=None):
        return False  # clinical records are archived, never deleted


# --- the five steps as inlines of the session ---------------------------------------------

class StepInline(ServiceInline, admin.StackedInline):
    form = OneToOneVersionedModelForm  # a stale page is refused, not saved over a colleague's
    step: str = ""
    service = None
    exclude = ("recorded_by",)
    max_num = 1
    min_num = 0
    extra = 1

    def service_call(self, session, form, user):
        return type(self).service, {"session": session, "recorded_by": user,
                                    **self.form_data(form, "session")}

    def get_readonly_fields(self, request, obj=None):
        """A recorded step is frozen once a later step exists or the session is closed."""
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.step_record(self.step) is not None:
            index = STEP_CODES.index(self.step)
            later_recorded = any(obj.step_record(code) for code in STEP_CODES[index + 1:])
            if later_recorded or obj.status not in services.OPEN_STATUSES:
                # The version stays a hidden input: a frozen record is still posted back with
                # the page, and its version must match what was rendered.
                readonly += [f.name for f in self.model._meta.fields
                             if f.editable and f.name not in ("id", "session", "version")]
        return readonly


class ConsultationInline(StepInline):
    model = Consultation
    step = "consultation"
    service = services.consultation_record
    readonly_fields = ("scores",)

    @admin.display(description="scores")
    def scores(self, obj):
        if obj is None or obj.pk is None:
            return "Calculated when saved."
        flag = " — ITEM 9 (SELF-HARM) ABOVE 0: SAFETY ALERT" if obj.self_harm_flag else ""
        return (f"PHQ-9 {obj.phq9_total} ({obj.phq9_band.label}); "
                f"GAD-7 {obj.gad7_total} ({obj.gad7_band.label}){flag}")


class EvaluationForm(OneToOneVersionedModelForm):
    class Meta:
        model = Evaluation
        fields = ("measured_at", "systolic_mmhg", "diastolic_mmhg", "heart_rate_bpm",
                  "spo2_percent", "respiratory_rate_per_min", "weight_kg",
                  "alcohol_or_drugs_last_24h", "active_psychosis", "screening_notes",
                  "decision", "override_reason")
        widgets = {"decision": forms.RadioSelect}
        help_texts = {"measured_at": "Leave empty if you took them just now."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "measured_at" in self.fields:  # absent once the step is frozen
            # No "now" filled in: a time put on the page when it was opened would count as a
            # change when the page is saved for something else. Empty means now (the service).
            self.fields["measured_at"].required = False
        drop_blank_choice(self, "decision")


class EvaluationInline(StepInline):
    model = Evaluation
    form = EvaluationForm
    step = "evaluation"
    service = services.evaluation_record
    readonly_fields = ("findings_list",)

    def get_exclude(self, request, obj=None):
        """Only a clinician with the override permission may clear despite a block: others are
        not offered the reason field (the service refuses them anyway)."""
        exclude = list(super().get_exclude(request, obj) or ())
        if not request.user.has_perm(services.OVERRIDE_PERMISSION):
            exclude.append("override_reason")
        return exclude

    @admin.display(description="safety findings")
    def findings_list(self, obj):
        if obj is None or obj.pk is None:
            return "Computed from the patient's record and these vitals when saved."
        return findings_html(obj.findings)


class ExpectationSettingForm(ConsentTimeFromService, OneToOneVersionedModelForm):
    class Meta:
        model = ExpectationSetting
        exclude = ("recorded_by",)


class ExpectationSettingInline(StepInline):
    model = ExpectationSetting
    form = ExpectationSettingForm
    step = "expectations"
    service = services.expectations_record

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        field = formset.form.base_fields.get("consent_signed_at")
        if field is not None:  # absent once the step is frozen
            field.help_text = "When the patient signed; leave empty if just now."
        return formset


class AdministrationForm(OneToOneVersionedModelForm):
    class Meta:
        model = Administration
        fields = ("drug", "route", "dose_mg", "started_at", "ended_at", "lot_number",
                  "administered_by", "notes")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "administered_by" in self.fields:  # absent once the step is frozen
            self.fields["administered_by"].required = False
            self.fields["administered_by"].help_text = "Leave empty if you gave it yourself."
            limit_to_role(self, "administered_by", roles.ADMINISTERS)


class AdministrationInline(StepInline):
    model = Administration
    form = AdministrationForm
    step = "administration"
    service = services.administration_record
    readonly_fields = ("weight_kg", "dose_mg_per_kg")


class MonitoringInline(StepInline):
    model = Monitoring
    step = "monitoring"
    service = services.monitoring_record
    readonly_fields = ("observation_minutes",)
    exclude = ("recorded_by", "rems_submitted_on")


STEP_INLINES = (ConsultationInline, EvaluationInline, ExpectationSettingInline,
                AdministrationInline, MonitoringInline)


# --- vitals and side effects: recorded rows frozen, new rows through services ------------

class RecordedVitalSignInline(admin.TabularInline):
    model = VitalSign
    verbose_name_plural = "vital signs recorded"
    fields = ("measured_at", "phase", "systolic_mmhg", "diastolic_mmhg", "heart_rate_bpm",
              "spo2_percent", "respiratory_rate_per_min", "flag_list", "recorded_by")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("recorded_by")  # no N+1

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="flags")
    def flag_list(self, obj):
        return findings_html(obj.flags) if obj.flags else "—"


class NewVitalSignInline(ServiceInline, admin.TabularInline):
    model = VitalSign
    verbose_name = "new vital signs"
    verbose_name_plural = "add vital signs"
    fields = ("measured_at", "phase", "systolic_mmhg", "diastolic_mmhg", "heart_rate_bpm",
              "spo2_percent", "respiratory_rate_per_min")
    extra = 1

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def service_call(self, session, form, user):
        return services.vital_sign_record, {"session": session, "recorded_by": user,
                                            **self.form_data(form, "session")}


SIDE_EFFECT_FIELDS = ("symptom", "severity", "is_serious", "onset_at", "resolved_at",
                      "intervention", "notes")


class RecordedSideEffectInline(ServiceInline, admin.TabularInline):
    """Recorded side effects: resolution, intervention, severity and notes stay editable as
    the event unfolds; what was observed and when does not."""

    model = SideEffectObservation
    fk_name = "session"
    verbose_name_plural = "side effects recorded"
    fields = ("symptom", "onset_at", "severity", "is_serious", "resolved_at", "intervention",
              "notes", "recorded_by", "signed_off_by")
    readonly_fields = ("symptom", "onset_at", "recorded_by", "signed_off_by")
    extra = 0

    def get_queryset(self, request):  # one query for all rows, not one per row
        return super().get_queryset(request).select_related("symptom", "recorded_by",
                                                            "signed_off_by")

    def has_add_permission(self, request, obj=None):
        return False

    def service_call(self, parent, form, user):
        return services.side_effect_update, {
            "observation": form.instance,
            **self.form_data(form, "session", "follow_up"),
        }


class NewSideEffectInline(ServiceInline, admin.TabularInline):
    model = SideEffectObservation
    fk_name = "session"
    verbose_name = "new side effect"
    verbose_name_plural = "add side effects"
    fields = SIDE_EFFECT_FIELDS
    autocomplete_fields = ("symptom",)
    extra = 1

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def service_call(self, session, form, user):
        return services.side_effect_record, {"session": session, "recorded_by": user,
                                             **self.form_data(form, "session", "follow_up")}


class FollowUpRecordedSideEffectInline(RecordedSideEffectInline):
    fk_name = "follow_up"


class FollowUpNewSideEffectInline(NewSideEffectInline):
    fk_name = "follow_up"
    verbose_name_plural = "add withdrawal symptoms or side effects found at this follow-up"

    def service_call(self, follow_up, form, user):
        return services.side_effect_record, {"follow_up": follow_up, "recorded_by": user,
                                             **self.form_data(form, "session", "follow_up")}


class ReminderInline(admin.TabularInline):
    model = Reminder
    fields = ("kind", "due_at", "status", "attempts", "sent_at", "last_error")
    readonly_fields = fields
    extra = 0
    fk_name = "session"

    def get_queryset(self, request):
        return selectors.reminders_visible(user=request.user,
                                           reminders=super().get_queryset(request))

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- the session page ---------------------------------------------------------------------

class CancelForm(forms.Form):
    reason = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"size": 60}))


class TreatmentSessionForm(VersionedModelForm):
    class Meta:
        model = TreatmentSession
        fields = ("patient", "course", "clinician", "scheduled_at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit_to_role(self, "clinician", roles.RESPONSIBLE_CLINICIAN)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            if not self.instance.pk:
                services.dry_run(services.session_schedule, patient=cleaned["patient"],
                                 course=cleaned["course"], clinician=cleaned["clinician"],
                                 scheduled_at=cleaned["scheduled_at"])
            elif "clinician" in self.changed_data:
                services.dry_run(services.session_clinician_change, session=self.instance,
                                 clinician=cleaned["clinician"])
        except ValidationError as error:
            add_service_error(self, error)
        return cleaned


@admin.register(TreatmentSession)
class TreatmentSessionAdmin(QuickActionCheckbox, PatientAccessLoggedAdmin, NoDeleteMixin,
                            ServiceSavingAdmin):
    form = TreatmentSessionForm
    list_display = ("id", "patient", "scheduled_at", "status", "current_step_column",
                    "findings_column", "clinician")
    list_display_links = ("id", "patient")
    list_filter = ("status", "scheduled_at", "clinician", "course__drug")
    # The five steps are fetched for the page's rows only (prefetch, below): joined into the
    # list query they made PostgreSQL join every matching session's steps before sorting and
    # cutting the page (a patient-name search: 6,160 sessions joined to show 100, 66 ms, and
    # 20 ms just to plan the ten-table join).
    list_select_related = ("patient", "course", "clinician")
    paginator = LargeTablePaginator  # no full count of every session on each page view
    show_full_result_count = False
    # No date_hierarchy: it runs SELECT DISTINCT over every row (scheduled_at), 190-380 ms at
    # network scale and growing with history; the scheduled_at list filter covers the need.
    search_fields = ("patient__last_name", "patient__first_name", "patient__mrn")
    autocomplete_fields = ("patient", "course")
    readonly_fields = ("status", "started_at", "completed_at", "cancelled_at",
                       "cancellation_reason", "current_step_column")
    actions = ["start_sessions", "cancel_sessions", "mark_no_show"]

    class Media:
        # The Course autocomplete asks for the selected patient's courses only. jQuery named
        # first so the admin's media merge puts the script after it (django.jQuery).
        js = ("admin/js/vendor/jquery/jquery.js", "admin/js/jquery.init.js",
              "js/admin-session-course.js")

    @staticmethod
    def _patient_in_query(request) -> int | None:
        """The patient of "Schedule a session" on the patient's page (?patient=<id>)."""
        value = request.GET.get("patient", "")
        return int(value) if value.isdigit() else None

    def get_autocomplete_fields(self, request):
        if self._patient_in_query(request) is not None:
            # Opened from the patient's page: their active courses as a plain list, no search.
            return tuple(name for name in self.autocomplete_fields if name != "course")
        return self.autocomplete_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        patient_id = self._patient_in_query(request)
        if db_field.name == "course" and patient_id is not None:
            kwargs["queryset"] = selectors.courses_schedulable(patient_id=patient_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        patient_id = self._patient_in_query(request)
        if patient_id is not None and "course" not in initial:
            courses = list(selectors.courses_schedulable(patient_id=patient_id)[:2])
            if len(courses) == 1:  # the usual case: one active course, chosen for the nurse
                initial["course"] = courses[0].pk
        return initial

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The session page (/sessions/<id>/) is for the roles that may read clinical data.
        extra_context = dict(extra_context or {})
        if request.user.has_perms(CLINICAL_VIEW) and str(object_id).isdigit():
            extra_context["session_page_url"] = reverse("session_detail", args=[object_id])
        return super().change_view(request, object_id, form_url, extra_context)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return ((None, {"fields": ("patient", "course", "clinician", "scheduled_at")}),)
        return (
            (None, {"fields": ("patient", "course", "clinician", "scheduled_at", "version")}),
            ("Status", {"fields": (("status", "current_step_column"),
                                   ("started_at", "completed_at"),
                                   ("cancelled_at", "cancellation_reason"))}),
        )

    def get_readonly_fields(self, request, obj=None):
        readonly = list(self.readonly_fields)
        if obj is not None:
            readonly += ["patient", "course"]
            if obj.status != TreatmentSession.Status.SCHEDULED:
                readonly.append("scheduled_at")
        return readonly

    def get_inlines(self, request, obj):
        """Recorded steps, then only the next step allowed; vitals after the evaluation."""
        if obj is None:
            return []
        inlines = []
        is_open = obj.status in services.OPEN_STATUSES
        for inline in STEP_INLINES:
            if obj.step_record(inline.step) is not None:
                inlines.append(inline)
            elif is_open:
                inlines.append(inline)
                break
            else:
                break
        if obj.step_record("evaluation") is not None:
            inlines.append(RecordedVitalSignInline)
            if is_open:
                inlines.append(NewVitalSignInline)
        if obj.status in (TreatmentSession.Status.IN_PROGRESS, TreatmentSession.Status.COMPLETED):
            inlines += [RecordedSideEffectInline, NewSideEffectInline]
        inlines.append(ReminderInline)
        return inlines

    def get_queryset(self, request):
        # Steps already joined in (get_object) are not fetched again by the prefetch.
        return super().get_queryset(request).prefetch_related(*STEP_SELECT_RELATED[3:])

    def get_object(self, request, object_id, from_field=None):
        queryset = self.get_queryset(request).select_related(*STEP_SELECT_RELATED)
        try:
            return queryset.get(pk=object_id)
        except (self.model.DoesNotExist, ValidationError, ValueError):
            return None

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.session_schedule(
                patient=obj.patient, course=obj.course, clinician=obj.clinician,
                scheduled_at=obj.scheduled_at,
            )
            obj.pk = created.pk
            obj._state.adding = False
            return
        if "scheduled_at" in form.changed_data:
            services.session_reschedule(session=obj, scheduled_at=obj.scheduled_at)
        if "clinician" in form.changed_data:
            services.session_clinician_change(session=obj, clinician=obj.clinician)

    def get_list_display(self, request):
        # Evaluation findings are clinical: only for roles that may read the evaluation.
        if request.user.has_perm("treatment_sessions.view_evaluation"):
            return self.list_display
        return tuple(name for name in self.list_display if name != "findings_column")

    @admin.display(description="current step")
    def current_step_column(self, obj):
        return obj.current_step_label

    @admin.display(description="findings")
    def findings_column(self, obj):
        evaluation = obj.step_record("evaluation")
        if evaluation is None:
            return "—"
        blocks = sum(1 for f in evaluation.findings if f["level"] == "block")
        warns = len(evaluation.findings) - blocks
        text = f"{evaluation.get_decision_display()}; {blocks} block, {warns} warn"
        return format_html("<strong>{}</strong>", text) if blocks else text

    def _apply(self, request, queryset, action, done_message):
        done = 0
        for session in queryset:
            try:
                action(session)
                done += 1
            except WorkflowError as error:
                self.message_user(request, f"Session {session.pk}: {error.text}", messages.ERROR)
        if done:
            self.message_user(request, done_message.format(done), messages.SUCCESS)

    @admin.action(description="Start selected sessions", permissions=["change"])
    def start_sessions(self, request, queryset):
        self._apply(request, queryset, lambda s: services.session_start(session=s),
                    "{} session(s) started.")

    @admin.action(description="Mark selected sessions as no-show", permissions=["change"])
    def mark_no_show(self, request, queryset):
        self._apply(request, queryset, lambda s: services.session_cancel(
            session=s, reason="Patient did not attend.", no_show=True),
            "{} session(s) marked as no-show.")

    @admin.action(description="Cancel selected sessions…", permissions=["change"])
    def cancel_sessions(self, request, queryset):
        form = CancelForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            self._apply(request, queryset,
                        lambda s: services.session_cancel(session=s, reason=reason),
                        "{} session(s) cancelled.")
            return None
        return TemplateResponse(request, "admin/treatment_sessions/cancel_sessions.html", {
            **self.admin_site.each_context(request),
            "title": "Cancel sessions",
            "sessions": queryset,
            "form": form,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        })


class TreatmentCourseForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit_to_role(self, "responsible_clinician", roles.RESPONSIBLE_CLINICIAN)

    def service_call(self):
        """The service this form's save goes through, with the values it was given."""
        if self.instance.pk is None:
            return services.course_create, dict(self.cleaned_data)
        return services.course_update, {"course": self.instance,
                                        **{name: self.cleaned_data[name]
                                           for name in self.changed_data}}

    def clean(self):
        cleaned = super().clean()
        if not self.errors and (self.instance.pk is None or self.has_changed()):
            service, kwargs = self.service_call()
            try:
                services.dry_run(service, **kwargs)
            except ValidationError as error:
                add_service_error(self, error)
        return cleaned


@admin.register(TreatmentCourse)
class TreatmentCourseAdmin(QuickActionCheckbox, PatientAccessLoggedAdmin, NoDeleteMixin,
                           ServiceSavingAdmin):
    form = TreatmentCourseForm
    list_display = ("id", "patient", "drug", "indication", "status", "planned_sessions",
                    "started_on", "ended_on", "responsible_clinician")
    paginator = LargeTablePaginator
    show_full_result_count = False
    list_filter = ("status", "drug", "indication")
    list_select_related = ("patient", "responsible_clinician")
    search_fields = ("patient__last_name", "patient__first_name", "patient__mrn")
    autocomplete_fields = ("patient",)
    readonly_fields = ("status", "ended_on")
    actions = ["end_courses"]

    def save_model(self, request, obj, form, change):
        if change and not form.has_changed():
            return
        service, kwargs = form.service_call()
        saved = service(**kwargs)
        obj.pk = saved.pk
        obj._state.adding = False

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if (request.GET.get("model_name") == "treatmentsession"
                and request.GET.get("field_name") == "course"):
            # The session form's Course autocomplete (static/js/admin-session-course.js sends
            # the patient chosen on the page): only courses a session may join, that patient's.
            patient = request.GET.get("patient", "")
            queryset = queryset & selectors.courses_schedulable(
                patient_id=int(patient) if patient.isdigit() else None)
        return queryset.select_related("patient"), may_have_duplicates  # the label names them

    @admin.action(description="End selected courses (completed)", permissions=["change"])
    def end_courses(self, request, queryset):
        for course in queryset:
            try:
                services.course_end(course=course)
            except WorkflowError as error:
                self.message_user(request, f"Course {course.pk}: {error.text}", messages.ERROR)


class FrozenRecordAdmin(QuickActionCheckbox, PatientAccessLoggedAdmin, NoDeleteMixin,
                        ClinicHistoryAdmin):
    """Steps are recorded on their session's page; here they are read, never added."""

    # A row per session or more: counted by the planner's estimate, not a scan of every row
    # (20-30 ms per count at 200,000 sessions, twice per page view).
    paginator = LargeTablePaginator
    show_full_result_count = False

    def access_log_patient(self, obj):
        owner = obj.session if getattr(obj, "session_id", None) else obj.follow_up
        return owner.patient

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Consultation)
class ConsultationAdmin(FrozenRecordAdmin):
    list_display = ("session", "phq9", "gad7", "self_harm_flag", "recorded_at")
    list_select_related = ("session__patient",)

    @admin.display(description="PHQ-9")
    def phq9(self, obj):
        return f"{obj.phq9_total} ({obj.phq9_band.label})"

    @admin.display(description="GAD-7")
    def gad7(self, obj):
        return f"{obj.gad7_total} ({obj.gad7_band.label})"


@admin.register(Evaluation)
class EvaluationAdmin(FrozenRecordAdmin):
    list_display = ("session", "decision", "blocked", "systolic_mmhg", "diastolic_mmhg",
                    "recorded_at")
    list_filter = ("decision", "blocked")
    list_select_related = ("session__patient",)


@admin.register(ExpectationSetting)
class ExpectationSettingAdmin(FrozenRecordAdmin):
    list_display = ("session", "consent_signed", "transport_arranged", "recorded_at")
    list_select_related = ("session__patient",)


@admin.register(Administration)
class AdministrationAdmin(FrozenRecordAdmin):
    list_display = ("session", "drug", "route", "dose_mg", "dose_mg_per_kg", "lot_number",
                    "started_at")
    list_filter = ("drug", "route")
    list_select_related = ("session__patient",)
    search_fields = ("lot_number",)


@admin.register(Monitoring)
class MonitoringAdmin(FrozenRecordAdmin):
    list_display = ("session", "observation_minutes", "cadss_score", "moaas_score",
                    "discharged_at", "rems_submitted_on")
    list_select_related = ("session__patient",)


@admin.register(VitalSign)
class VitalSignAdmin(FrozenRecordAdmin):
    list_display = ("session", "measured_at", "phase", "systolic_mmhg", "diastolic_mmhg",
                    "heart_rate_bpm", "spo2_percent")
    list_filter = ("phase",)
    list_select_related = ("session__patient",)


@admin.register(SideEffectObservation)
class SideEffectObservationAdmin(FrozenRecordAdmin):
    list_display = ("symptom", "severity", "is_serious", "onset_at", "resolved_at",
                    "intervention", "session", "follow_up", "signed_off_by")
    list_filter = ("severity", "is_serious", "symptom__category", "intervention")
    list_select_related = ("symptom", "session__patient", "follow_up__patient", "signed_off_by")
    actions = ["sign_off"]

    def get_actions(self, request):
        # has_change_permission is off (records are edited on their session's page), but a
        # clinician's sign-off is its own permission.
        actions = super().get_actions(request)
        if request.user.has_perm(services.SIGN_OFF_PERMISSION):
            actions["sign_off"] = self.get_action("sign_off")
        return actions

    @admin.action(description="Sign off selected side effects")
    def sign_off(self, request, queryset):
        for observation in queryset:
            try:
                services.side_effect_sign_off(observation=observation, user=request.user)
            except WorkflowError as error:
                self.message_user(request, f"{observation}: {error.text}", messages.ERROR)


FOLLOW_UP_SUBJECT_FIELDS = ("patient", "session", "course", "kind", "due_on")
FOLLOW_UP_OUTCOME_FIELDS = ("status", "contacted_at", "method", "notes")


class FollowUpForm(forms.ModelForm):
    """Validated by running the follow-up service in a rolled-back transaction, so a refused
    contact time or a "done" with no method is an error on its field, never a 500."""

    recorded_by = None  # the user saving the page: set per request by FollowUpAdmin.get_form

    class Meta:
        model = FollowUp
        fields = (*FOLLOW_UP_SUBJECT_FIELDS, *FOLLOW_UP_OUTCOME_FIELDS)

    def service_call(self):
        outcome = {name: self.cleaned_data.get(name) for name in FOLLOW_UP_OUTCOME_FIELDS}
        outcome["method"] = outcome["method"] or ""
        outcome["notes"] = outcome["notes"] or ""
        if self.instance.pk is not None:
            return services.follow_up_record, {"follow_up": self.instance,
                                               "recorded_by": self.recorded_by, **outcome}
        subject = {name: self.cleaned_data.get(name) for name in FOLLOW_UP_SUBJECT_FIELDS}
        return services.follow_up_create, {"recorded_by": self.recorded_by, **subject,
                                           **outcome}

    def clean(self):
        cleaned = super().clean()
        if self.errors or not self.has_changed():
            return cleaned
        func, kwargs = self.service_call()
        try:
            services.dry_run(func, **kwargs)
        except ValidationError as error:
            add_service_error(self, error)
        return cleaned


@admin.register(FollowUp)
class FollowUpAdmin(QuickActionCheckbox, PatientAccessLoggedAdmin, NoDeleteMixin,
                    ServiceSavingAdmin):
    form = FollowUpForm
    list_display = ("patient", "kind", "due_on", "status", "contacted_at", "method")
    paginator = LargeTablePaginator
    show_full_result_count = False
    list_filter = ("status", "kind", "due_on")
    list_select_related = ("patient",)
    search_fields = ("patient__last_name", "patient__first_name", "patient__mrn")
    autocomplete_fields = ("patient", "session", "course")
    # No date_hierarchy: it runs SELECT DISTINCT over every row (due_on), 190-380 ms at
    # network scale and growing with history; the due_on list filter covers the need.

    def get_fields(self, request, obj=None):
        if obj is None:
            return [*FOLLOW_UP_SUBJECT_FIELDS, *FOLLOW_UP_OUTCOME_FIELDS]
        return [*FOLLOW_UP_SUBJECT_FIELDS, *FOLLOW_UP_OUTCOME_FIELDS, "recorded_by",
                "is_archived"]

    def get_readonly_fields(self, request, obj=None):
        # Once it exists, what a follow-up follows and when it is due are set (its reminder
        # was scheduled from them); what staff record is its outcome, through the service.
        if obj is None:
            return ()
        return (*FOLLOW_UP_SUBJECT_FIELDS, "recorded_by", "is_archived")

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)  # a new class per request
        form.recorded_by = request.user
        return form

    def get_inlines(self, request, obj):
        if obj is None:
            return []
        return [FollowUpRecordedSideEffectInline, FollowUpNewSideEffectInline]

    def save_model(self, request, obj, form, change):
        if change and not form.has_changed():
            return  # only the inlines changed: they save through their own services
        func, kwargs = form.service_call()
        saved = func(**kwargs)
        if not change:
            obj.pk = saved.pk
            obj._state.adding = False


@admin.register(SymptomType)
class SymptomTypeAdmin(QuickActionCheckbox, NoDeleteMixin, admin.ModelAdmin):
    list_display = ("name", "category", "is_active")
    list_filter = ("category", "is_active")
    search_fields = ("name",)
    prepopulated_fields = {"code": ("name",)}


class ReminderKindFilter(admin.ChoicesFieldListFilter):
    """The kinds of reminder the user may see: no "Clinician safety alert" choice for those who
    may not see alerts (selectors.reminders_visible)."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.sees_alerts = sees_clinician_alerts(request.user)

    def choices(self, changelist):
        for choice in super().choices(changelist):
            if self.sees_alerts or choice["display"] != Reminder.Kind.CLINICIAN_ALERT.label:
                yield choice


@admin.register(Reminder)
class ReminderAdmin(QuickActionCheckbox, NoDeleteMixin, admin.ModelAdmin):
    paginator = LargeTablePaginator
    show_full_result_count = False
    list_display = ("kind", "patient", "due_at", "status", "attempts", "sent_at")
    list_filter = ("status", ("kind", ReminderKindFilter), "due_at")
    list_select_related = ("patient",)
    # No date_hierarchy: it runs SELECT DISTINCT over every row (due_at), 190-380 ms at
    # network scale and growing with history; the due_at list filter covers the need.
    search_fields = ("patient__last_name", "patient__mrn", "cause")
    readonly_fields = [f.name for f in Reminder._meta.fields]
    # What caused a reminder ("consultation:12", "observation:7") and whom an alert went to:
    # clinical, like the alerts themselves. Hidden from the page and the search of whoever may
    # not see alerts; their queryset holds no alert at all (get_queryset).
    cause_fields = ("cause", "observation", "recipient_user")
    actions = ["cancel_reminders", "retry_failed_reminders", "send_reminders_now"]

    def get_queryset(self, request):
        # The list, its filters and search, the change and history pages and the actions all
        # start here: an alert outside it is "not found", like an id that does not exist.
        return selectors.reminders_visible(user=request.user,
                                           reminders=super().get_queryset(request))

    def get_fields(self, request, obj=None):
        # Every field is read-only (readonly_fields), so leaving one out only hides it.
        fields = super().get_fields(request, obj)
        if sees_clinician_alerts(request.user):
            return fields
        return [name for name in fields if name not in self.cause_fields]

    def get_search_fields(self, request):
        if sees_clinician_alerts(request.user):
            return self.search_fields
        return tuple(name for name in self.search_fields if name not in self.cause_fields)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Cancel selected reminders (pending or sending)",
                  permissions=["change"])
    def cancel_reminders(self, request, queryset):
        count = reminders.reminders_cancel(queryset=queryset)
        self.message_user(request, f"{count} reminder(s) cancelled; others were already "
                          "sent, failed or cancelled.", messages.SUCCESS)

    @admin.action(description="Retry selected failed reminders", permissions=["change"])
    def retry_failed_reminders(self, request, queryset):
        count = reminders.reminders_retry_failed(queryset=queryset)
        self.message_user(request, f"{count} failed reminder(s) will be sent again within a "
                          "minute.", messages.SUCCESS)

    @admin.action(description="Send selected reminders now (pending or failed)",
                  permissions=["change"])
    def send_reminders_now(self, request, queryset):
        ids = reminders.reminders_make_due_now(queryset=queryset)
        result = dispatch.reminder_dispatch_due(only_ids=ids)
        self.message_user(request, f"{len(result.claimed)} reminder(s) queued for sending now.",
                          messages.SUCCESS)

from datetime import datetime

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from audit.admin import ClinicHistoryAdmin, PatientAccessLoggedAdmin
from audit.forms import VersionedModelForm
from clinic.admin_lists import QuickActionCheckbox
from clinic.permissions import sees_risk_flags
from patients import services
from patients.models import Condition, Medication, Patient
from patients.risk import risk_flags
from sessions import selectors
from sessions.errors import WorkflowError
from sessions.models import Reminder

DATE_SEARCH_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y")


def parse_search_date(term: str):
    for fmt in DATE_SEARCH_FORMATS:
        try:
            return datetime.strptime(term.strip(), fmt).date()
        except ValueError:
            continue
    return None


class ConditionInline(admin.TabularInline):
    model = Condition
    extra = 0
    fields = ("kind", "diagnosed_on", "is_active", "notes")

    def has_delete_permission(self, request, obj=None):
        return False  # untick "active" instead: history stays on record


class PatientReminderInline(admin.TabularInline):
    """The patient's reminders, read-only: actions are on the reminder list."""

    model = Reminder
    fk_name = "patient"
    fields = ("kind", "due_at", "status", "attempts", "sent_at", "last_error", "session")
    readonly_fields = fields
    extra = 0
    ordering = ("-due_at",)
    verbose_name_plural = "reminders"

    def get_queryset(self, request):
        return selectors.reminders_visible(user=request.user,
                                           reminders=super().get_queryset(request))

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MedicationInline(admin.TabularInline):
    model = Medication
    extra = 0
    fields = ("name", "drug_class", "dose", "started_on", "changed_on", "is_active")

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Patient)
class PatientAdmin(QuickActionCheckbox, PatientAccessLoggedAdmin, ClinicHistoryAdmin):
    form = VersionedModelForm
    list_display = ("mrn", "last_name", "first_name", "date_of_birth", "risk",
                    "reminders_opt_in", "is_archived")
    list_display_links = ("mrn", "last_name")
    list_filter = ("is_archived", "reminders_opt_in", "sex", "conditions__kind",
                   "medications__drug_class")
    search_fields = ("mrn", "last_name", "first_name", "email")
    search_help_text = "Name, MRN, email, or a date of birth (YYYY-MM-DD or MM/DD/YYYY)."
    # Archiving cancels reminders and is refused mid-session: the archive and restore
    # actions (below) go through the services, never a ticked box saved as it is.
    readonly_fields = ("mrn", "is_archived", "archived_at", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("mrn", ("first_name", "last_name"), "date_of_birth", "sex")}),
        ("Contact", {"fields": (("email", "phone"), "time_zone", "reminders_opt_in",
                                ("emergency_contact_name", "emergency_contact_phone"))}),
        ("Record", {"fields": ("is_archived", "archived_at", "created_at", "updated_at",
                               "version")}),
    )
    inlines = [ConditionInline, MedicationInline, PatientReminderInline]
    actions = ["archive_patients", "restore_patients"]

    def access_log_patient(self, obj):
        return obj

    def get_list_display(self, request):
        # Risk flags come from conditions and medications: clinical, not for the front desk.
        if sees_risk_flags(request.user):
            return self.list_display
        return tuple(name for name in self.list_display if name != "risk")

    def get_list_filter(self, request):
        if sees_risk_flags(request.user):
            return self.list_filter
        return tuple(name for name in self.list_filter
                     if not name.startswith(("conditions__", "medications__")))

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(
            Prefetch("conditions", queryset=Condition.objects.filter(is_active=True)),
            Prefetch("medications", queryset=Medication.objects.filter(is_active=True)),
        )

    def get_search_results(self, request, queryset, search_term):
        # The date of birth widens the search, within what the list is already filtered to
        # (archived or not, the role's rows): the queryset passed in, not all patients.
        filtered = queryset
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        born_on = parse_search_date(search_term)
        if born_on:
            queryset |= filtered.filter(date_of_birth=born_on)
        return queryset, may_have_duplicates

    @admin.display(description="risk flags")
    def risk(self, patient: Patient) -> str:
        flags = risk_flags(
            condition_kinds=[c.kind for c in patient.conditions.all()],
            drug_classes=[m.drug_class for m in patient.medications.all()],
        )
        return ", ".join(flags.labels()) or "—"

    def has_delete_permission(self, request, obj=None):
        return False  # archive instead

    def save_model(self, request, obj, form, change):
        if change and not form.has_changed():
            return  # nothing typed: no new version for a colleague's open page to trip on
        services.patient_save(patient=obj)

    def save_formset(self, request, form, formset, change):
        if formset.model not in (Condition, Medication):
            return super().save_formset(request, form, formset, change)
        for record in formset.save(commit=False):
            services.patient_history_record(record=record)
        return None

    # --- archive and restore: changelist actions, and a confirmation page per patient ----

    RECORD_ACTIONS = {
        "archive": (services.patient_archive, "archived",
                    "Archive this patient? They leave the daily lists and their pending "
                    "reminder emails are cancelled. Their records stay, and they can be "
                    "restored."),
        "restore": (services.patient_restore, "restored",
                    "Restore this patient to the daily lists? Reminder emails cancelled when "
                    "they were archived stay cancelled."),
    }

    def _apply_record_action(self, request, patients, action: str) -> None:
        service, done, _ = self.RECORD_ACTIONS[action]
        applied = []
        for patient in patients:
            try:
                service(patient=patient)
                applied.append(patient)
            except WorkflowError as error:
                self.message_user(request, f"{patient}: {error.text}", messages.ERROR)
        if len(applied) == 1:
            self.message_user(request, f"{applied[0]} {done}.", messages.SUCCESS)
        elif applied:
            self.message_user(request, f"{len(applied)} patients {done}.", messages.SUCCESS)

    @admin.action(description="Archive selected patients", permissions=["change"])
    def archive_patients(self, request, queryset):
        self._apply_record_action(request, queryset, "archive")

    @admin.action(description="Restore selected archived patients", permissions=["change"])
    def restore_patients(self, request, queryset):
        self._apply_record_action(request, queryset, "restore")

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(f"<path:object_id>/{action}/",
                 self.admin_site.admin_view(self.record_action_view),
                 {"action": action}, name=f"{info[0]}_{info[1]}_{action}")
            for action in self.RECORD_ACTIONS
        ] + super().get_urls()

    def record_action_view(self, request, object_id, action: str):
        """Archive or restore one patient from their page: GET asks, POST does (CSRF-checked
        by admin_view), then back to the patient's page with the outcome as a message."""
        patient = self.get_object(request, unquote(object_id))
        if patient is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, patient):
            raise PermissionDenied
        change_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                             args=[patient.pk])
        if request.method == "POST":
            self._apply_record_action(request, [patient], action)
            return redirect(change_url)
        _, _, question = self.RECORD_ACTIONS[action]
        return TemplateResponse(request, "admin/patients/patient/record_action.html", {
            **self.admin_site.each_context(request),
            "title": f"{action.capitalize()} patient",
            "action": action,
            "question": question,
            "object": patient,
            "opts": self.opts,
            "change_url": change_url,
        })

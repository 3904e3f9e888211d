from datetime import datetime

from django.contrib import admin, messages
from django.db.models import Prefetch

from audit.admin import ClinicHistoryAdmin, PatientAccessLoggedAdmin
from audit.forms import VersionedModelForm
from clinic.admin_lists import QuickActionCheckbox
from patients import services
from patients.models import Condition, Medication, Patient
from patients.risk import risk_flags
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
    readonly_fields = ("mrn", "archived_at", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("mrn", ("first_name", "last_name"), "date_of_birth", "sex")}),
        ("Contact", {"fields": (("email", "phone"), "time_zone", "reminders_opt_in",
                                ("emergency_contact_name", "emergency_contact_phone"))}),
        ("Record", {"fields": ("is_archived", "archived_at", "created_at", "updated_at",
                               "version")}),
    )
    inlines = [ConditionInline, MedicationInline, PatientReminderInline]
    actions = ["archive_patients"]

    def access_log_patient(self, obj):
        return obj

    def get_list_display(self, request):
        # Risk flags come from conditions and medications: clinical, not for the front desk.
        if request.user.has_perm("patients.view_condition"):
            return self.list_display
        return tuple(name for name in self.list_display if name != "risk")

    def get_list_filter(self, request):
        if request.user.has_perm("patients.view_condition"):
            return self.list_filter
        return tuple(name for name in self.list_filter
                     if not name.startswith(("conditions__", "medications__")))

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(
            Prefetch("conditions", queryset=Condition.objects.filter(is_active=True)),
            Prefetch("medications", queryset=Medication.objects.filter(is_active=True)),
        )

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        born_on = parse_search_date(search_term)
        if born_on:
            queryset |= self.model.objects.filter(date_of_birth=born_on)
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
        super().save_model(request, obj, form, change)
        if change and "reminders_opt_in" in form.changed_data and not obj.reminders_opt_in:
            services.patient_reminders_opt_out(patient=obj)

    @admin.action(description="Archive selected patients", permissions=["change"])
    def archive_patients(self, request, queryset):
        archived = 0
        for patient in queryset:
            try:
                services.patient_archive(patient=patient)
                archived += 1
            except WorkflowError as error:
                self.message_user(request, f"{patient}: {error.text}", messages.ERROR)
        if archived:
            self.message_user(request, f"{archived} patient(s) archived.", messages.SUCCESS)

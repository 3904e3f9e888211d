from django.contrib import admin
from django.http import HttpResponseNotAllowed
from simple_history.admin import SimpleHistoryAdmin

from audit.models import PatientAccess
from audit.services import patient_access_record
from clinic.admin_lists import QuickActionCheckbox
from sessions.paginators import LargeTablePaginator


@admin.register(PatientAccess)
class PatientAccessAdmin(QuickActionCheckbox, admin.ModelAdmin):
    """Read-only: the access log is evidence, not data to edit."""

    list_display = ("accessed_at", "user", "patient", "what", "ip_address")
    list_filter = ("accessed_at",)
    list_select_related = ("user", "patient")
    # A row per view of a patient's record: counted by the planner's estimate once large.
    paginator = LargeTablePaginator
    show_full_result_count = False
    search_fields = ("user__username", "patient__mrn", "patient__last_name")
    date_hierarchy = "accessed_at"
    readonly_fields = [f.name for f in PatientAccess._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PatientAccessLoggedAdmin:
    """Mixin for a ModelAdmin whose change page (and history page) shows a patient's record:
    every GET writes an access-log row. Subclasses say whose record an object belongs to."""

    access_log_what = ""

    def access_log_patient(self, obj):
        return getattr(obj, "patient", None)

    def _log_access(self, request, object_id, page):
        if request.method != "GET" or not request.user.is_authenticated:
            return
        obj = self.get_object(request, object_id)
        patient = obj is not None and self.access_log_patient(obj)
        if patient:
            label = self.access_log_what or self.model._meta.verbose_name
            patient_access_record(request=request, patient=patient,
                                  what=f"admin {page}: {label} {obj.pk}")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200:
            self._log_access(request, object_id, "record")
        return response

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        if response.status_code == 200:
            self._log_access(request, object_id, "history")
        return response

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        response = super().history_form_view(request, object_id, version_id, extra_context)
        if response.status_code == 200:
            self._log_access(request, object_id, "past version")
        return response


class ClinicHistoryAdmin(SimpleHistoryAdmin):
    """SimpleHistoryAdmin with a read-only history.

    django-simple-history's per-version page saves a POSTed form (a "revert") whatever
    SIMPLE_HISTORY_REVERT_DISABLED says, checking only view permission: that would let a
    view-only role write, and would bypass the workflow services. Versions are evidence; they
    are only shown.
    """

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        return super().history_form_view(request, object_id, version_id, extra_context)

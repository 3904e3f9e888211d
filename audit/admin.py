from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseNotAllowed
from simple_history.admin import SimpleHistoryAdmin
from simple_history.utils import get_history_model_for_model

from audit.models import PatientAccess, SecurityEvent
from audit.services import patient_access_record
from clinic.admin_lists import QuickActionCheckbox
from sessions.paginators import LargeTablePaginator


class AppendOnlyLogAdmin(QuickActionCheckbox, admin.ModelAdmin):
    """A log is evidence, not data to edit: read only, whatever the user's permissions (the
    database triggers refuse edits anyway)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PatientAccess)
class PatientAccessAdmin(AppendOnlyLogAdmin):
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


@admin.register(SecurityEvent)
class SecurityEventAdmin(AppendOnlyLogAdmin):
    """Read-only, like the access log: who changed whose groups, permissions, password or
    flags. The triggers refuse edits anyway; the admin does not offer them."""

    list_display = ("occurred_at", "actor", "target", "what", "details", "ip_address")
    list_filter = ("what", "occurred_at")
    list_select_related = ("actor", "target")
    search_fields = ("actor__username", "target__username", "details")
    date_hierarchy = "occurred_at"
    readonly_fields = [f.name for f in SecurityEvent._meta.fields]


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

    django-simple-history puts the ids from the URL straight into a query, so a typed URL
    such as ``…/abc/history/`` or ``…/1/history/%00/`` raised ValueError (a 500) before any
    permission check: ids the primary key cannot hold are a 404 here.
    """

    def history_view(self, request, object_id, extra_context=None):
        _parsed_or_404(self.model, unquote(object_id))
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        _parsed_or_404(self.model, unquote(object_id))
        _parsed_or_404(get_history_model_for_model(self.model), version_id)
        return super().history_form_view(request, object_id, version_id, extra_context)


def _parsed_or_404(model, object_id: str) -> None:
    try:
        model._meta.pk.to_python(object_id)
    except (ValidationError, ValueError, TypeError) as error:
        raise Http404(f"No {model._meta.verbose_name} has that id.") from error

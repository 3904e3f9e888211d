"""Admin plumbing that routes inline saves through the services.

The admin validates every inline form by running the real service in a rolled-back
transaction (``services.dry_run``), so a refused step appears as an error on its form; the save
then runs the same service for real. No rule lives here.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect

from audit.admin import ClinicHistoryAdmin
from sessions import services
from sessions.errors import WorkflowError


def add_service_error(form, error: ValidationError) -> None:
    """Attach a service's error to the form: on its field when the form has that field."""
    if hasattr(error, "error_dict") and all(name in form.fields for name in error.error_dict):
        form.add_error(None, error)
    else:
        form.add_error(None, error.messages)


class ServiceInlineFormSet(BaseInlineFormSet):
    request = None  # set per request by ServiceInline.get_formset

    def full_clean(self):
        """Validate without leaving an unsaved record on the parent.

        Cleaning a new one-to-one record (a session's next step) assigns the parent to it, and
        Django then caches that unsaved record on the parent as if it were recorded. After a
        refused save the page was rendered from that parent: the step looked recorded, the
        steps before it turned read-only (dropping their version from the next post: a false
        "changed by … after you opened it") and the current step was one never reached.
        """
        relation = self.fk.remote_field
        if not self.fk.one_to_one:
            return super().full_clean()
        cached = relation.get_cached_value(self.instance, default=None)
        was_cached = relation.is_cached(self.instance)
        try:
            super().full_clean()
        finally:
            if was_cached:
                relation.set_cached_value(self.instance, cached)
            elif relation.is_cached(self.instance):
                relation.delete_cached_value(self.instance)

    def service_forms(self):
        deleted = set(self.deleted_forms) if self.can_delete else set()
        return [f for f in self.forms if f.has_changed() and f not in deleted]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        for form in self.service_forms():
            func, kwargs = self.inline_admin.service_call(self.instance, form, self.request.user)
            try:
                services.dry_run(func, **kwargs)
            except ValidationError as error:
                add_service_error(form, error)

    def save_through_services(self):
        # The admin's change message (and history) reads these three lists.
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        for form in self.service_forms():
            is_new = form.instance.pk is None
            func, kwargs = self.inline_admin.service_call(self.instance, form, self.request.user)
            saved = func(**kwargs)
            if is_new:
                self.new_objects.append(saved)
            else:
                self.changed_objects.append((saved, form.changed_data))


class ServiceInline:
    """Mixin for an inline whose saves go through a service.

    Subclasses implement ``service_call(parent, form, user) -> (callable, kwargs)``.
    """

    formset = ServiceInlineFormSet
    can_delete = False

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.request = request
        formset.inline_admin = self
        return formset

    def has_delete_permission(self, request, obj=None):
        return False

    @staticmethod
    def form_data(form, *exclude: str) -> dict:
        # "version" is optimistic-locking bookkeeping, checked by the form, not a service input.
        skip = {"id", "DELETE", "version", form._meta.model._meta.pk.name, *exclude}
        return {k: v for k, v in form.cleaned_data.items() if k not in skip}


class ServiceSavingAdmin(ClinicHistoryAdmin):
    """A ModelAdmin whose inline formsets save through their services.

    A WorkflowError raised at save time (a race: someone else recorded the step meanwhile)
    rolls the whole change back and is shown as a message instead of a server error.
    """

    def save_formset(self, request, form, formset, change):
        if isinstance(formset, ServiceInlineFormSet):
            formset.save_through_services()
        else:
            super().save_formset(request, form, formset, change)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except WorkflowError as error:
            self.message_user(request, f"Nothing was saved: {error.text}", messages.ERROR)
            return redirect(request.get_full_path())

"""Fixes for Django behaviour that turns hostile input into a server error.

The admin's autocomplete widget re-renders a refused form by looking up the submitted value
(``filter(pk__in=[value])``) without validating it first: a POST with ``patient=abc`` is a 500
instead of "Select a valid choice". Values the target field cannot even parse are dropped
before the lookup; the form still shows its own error for the field.

The autocomplete view itself accepts any field name the model knows, reverse relations
included (``field_name=reminders`` on a patient), and then fails on the relation object
(``'ManyToOneRel' object has no attribute 'get_limit_choices_to'``): a 500 any logged-in
user can cause. Only a concrete forward relation can have an autocomplete widget, so anything
else is refused as Django refuses other malformed requests, with a 403.
"""

from django.apps import apps
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteMixin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError

_original_optgroups = AutocompleteMixin.optgroups
_original_process_request = AutocompleteJsonView.process_request


def _parsable(field, values) -> list:
    try:
        target = field.target_field
    except Exception:  # not a to-one relation: leave the values to Django
        return list(values)
    kept = []
    for value in values:
        try:
            target.to_python(value)
        except (ValidationError, TypeError, ValueError):
            continue
        kept.append(value)
    return kept


def _optgroups(self, name, value, attr=None):
    return _original_optgroups(self, name, _parsable(self.field, value), attr)


def _forward_relation_only(self, request):
    """Refuse a field name that is not a concrete forward relation (a reverse relation, a
    generic foreign key) before Django's own processing trips over it."""
    try:
        source_model = apps.get_model(request.GET["app_label"], request.GET["model_name"])
        source_field = source_model._meta.get_field(request.GET["field_name"])
    except (KeyError, LookupError, FieldDoesNotExist) as error:
        raise PermissionDenied from error
    if not (source_field.is_relation and source_field.concrete):
        raise PermissionDenied
    return _original_process_request(self, request)


def apply() -> None:
    if AutocompleteMixin.optgroups is not _optgroups:
        AutocompleteMixin.optgroups = _optgroups
    if AutocompleteJsonView.process_request is not _forward_relation_only:
        AutocompleteJsonView.process_request = _forward_relation_only

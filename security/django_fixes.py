"""Fixes for Django behaviour that turns hostile input into a server error.

The admin's autocomplete widget re-renders a refused form by looking up the submitted value
(``filter(pk__in=[value])``) without validating it first: a POST with ``patient=abc`` is a 500
instead of "Select a valid choice". Values the target field cannot even parse are dropped
before the lookup; the form still shows its own error for the field.
"""

from django.contrib.admin.widgets import AutocompleteMixin
from django.core.exceptions import ValidationError

_original_optgroups = AutocompleteMixin.optgroups


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


def apply() -> None:
    if AutocompleteMixin.optgroups is not _optgroups:
        AutocompleteMixin.optgroups = _optgroups

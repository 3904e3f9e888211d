"""Admin lists render each row's action checkbox exactly as Django does, only faster."""

import pytest
from django.contrib import admin

from clinic.admin_lists import QuickActionCheckbox
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_quick_action_checkbox_writes_what_django_writes():
    patient = PatientFactory(first_name='Ann <b>"O\'Neil" &', last_name="Zoë")
    model_admin = admin.site._registry[type(patient)]
    assert isinstance(model_admin, QuickActionCheckbox)
    quick = model_admin.action_checkbox(patient)
    assert quick == admin.ModelAdmin.action_checkbox(model_admin, patient)
    assert "&lt;b&gt;" in quick  # the name is escaped once, never twice, never raw


def test_every_list_of_the_clinics_own_records_uses_it():
    own = [model_admin for model, model_admin in admin.site._registry.items()
           if model._meta.app_label in ("patients", "treatment_sessions", "audit")]
    assert len(own) >= 10
    for model_admin in own:
        assert isinstance(model_admin, QuickActionCheckbox), type(model_admin).__name__

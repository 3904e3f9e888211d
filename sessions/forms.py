"""Forms of the session logging pages. They validate input; the services decide (a refusal
from a service is attached to the form by `add_service_error`)."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.forms import OneToOneVersionedModelForm
from sessions.models import (
    GAD7_FIELDS,
    PHQ9_FIELDS,
    Administration,
    Consultation,
    Evaluation,
    ExpectationSetting,
    Monitoring,
    SideEffectObservation,
    SymptomType,
    VitalSign,
)


class LocalDateTimeInput(forms.DateTimeInput):
    """The browser's date-and-time picker; values are in the clinic's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def add_service_error(form: forms.Form, error: ValidationError) -> None:
    """Show a service's refusal on the form: on the named field when the form has it."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None,
                           [message for e in errors for message in e.messages])
    else:
        form.add_error(None, error.messages)


class ConsentTimeFromService:
    """Signed consent with its time left empty: the service stamps the time it is saved. The
    model's "signed consent needs its time" check would refuse the empty field first."""

    def _get_validation_exclusions(self):
        return super()._get_validation_exclusions() | {"consent_signed_at"}


def drop_blank_choice(form: forms.Form, name: str) -> None:
    """A model field with choices and no default gets Django's blank "---------" choice, which
    a RadioSelect shows as an option of its own; a decision must be one of the real ones."""
    field = form.fields.get(name)  # absent when the admin shows the step read-only
    if field is not None:
        field.choices = [(value, label) for value, label in field.choices if value != ""]


def _now_local():
    return timezone.localtime().replace(second=0, microsecond=0)


class ConsultationForm(OneToOneVersionedModelForm):
    class Meta:
        model = Consultation
        fields = ("mental_health_history", "current_symptoms", "panic_concerns",
                  "panic_attacks_since_last_session", *PHQ9_FIELDS, *GAD7_FIELDS)
        widgets = {"mental_health_history": forms.Textarea(attrs={"rows": 2}),
                   "current_symptoms": forms.Textarea(attrs={"rows": 2})}


class EvaluationForm(OneToOneVersionedModelForm):
    class Meta:
        model = Evaluation
        fields = ("measured_at", "systolic_mmhg", "diastolic_mmhg", "heart_rate_bpm",
                  "spo2_percent", "respiratory_rate_per_min", "weight_kg",
                  "alcohol_or_drugs_last_24h", "active_psychosis", "screening_notes",
                  "decision", "override_reason")
        widgets = {"measured_at": LocalDateTimeInput, "decision": forms.RadioSelect,
                   "screening_notes": forms.Textarea(attrs={"rows": 2}),
                   "override_reason": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, can_override: bool, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("measured_at", _now_local())
        super().__init__(*args, **kwargs)
        self.fields["measured_at"].required = False  # empty: now (the service)
        drop_blank_choice(self, "decision")
        if not can_override:
            # Only a clinician with the override permission may clear despite a block.
            del self.fields["override_reason"]


class ExpectationsForm(ConsentTimeFromService, OneToOneVersionedModelForm):
    class Meta:
        model = ExpectationSetting
        fields = ("consent_signed", "consent_signed_at", "side_effects_explained",
                  "plan_deep_breathing", "plan_grounding", "plan_tell_staff",
                  "anxiety_plan_notes", "transport_arranged", "transport_details")
        widgets = {"consent_signed_at": LocalDateTimeInput,
                   "anxiety_plan_notes": forms.Textarea(attrs={"rows": 2})}
        help_texts = {"consent_signed_at": "When the patient signed; empty means now."}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("consent_signed_at", _now_local())
        super().__init__(*args, **kwargs)


class AdministrationForm(OneToOneVersionedModelForm):
    class Meta:
        model = Administration
        fields = ("drug", "route", "dose_mg", "started_at", "ended_at", "lot_number", "notes")
        widgets = {"started_at": LocalDateTimeInput, "ended_at": LocalDateTimeInput,
                   "notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, session, **kwargs):
        kwargs.setdefault("initial", {}).update(
            drug=session.course.drug, started_at=_now_local(),
            route="intranasal" if session.course.drug == "esketamine" else "iv")
        super().__init__(*args, **kwargs)


class MonitoringForm(OneToOneVersionedModelForm):
    class Meta:
        model = Monitoring
        fields = ("discharged_at", "cadss_score", "moaas_score", "discharge_criteria_met",
                  "discharged_with", "discharge_notes")
        widgets = {"discharged_at": LocalDateTimeInput,
                   "discharge_notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("discharged_at", _now_local())
        super().__init__(*args, **kwargs)
        # The service gives the actionable message ("keep observing until they are").
        self.fields["discharge_criteria_met"].required = False

    def _get_validation_exclusions(self):
        # The model's "criteria met" constraint would refuse with a terser message first.
        return super()._get_validation_exclusions() | {"discharge_criteria_met"}


STEP_FORMS = {
    "consultation": ConsultationForm,
    "evaluation": EvaluationForm,
    "expectations": ExpectationsForm,
    "administration": AdministrationForm,
    "monitoring": MonitoringForm,
}


class VitalSignForm(forms.ModelForm):
    prefix = "vital"

    class Meta:
        model = VitalSign
        fields = ("measured_at", "phase", "systolic_mmhg", "diastolic_mmhg", "heart_rate_bpm",
                  "spo2_percent", "respiratory_rate_per_min")
        widgets = {"measured_at": LocalDateTimeInput}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("measured_at", _now_local())
        super().__init__(*args, **kwargs)


class SideEffectForm(forms.ModelForm):
    prefix = "side_effect"

    class Meta:
        model = SideEffectObservation
        fields = ("symptom", "severity", "is_serious", "onset_at", "resolved_at",
                  "intervention", "notes")
        widgets = {"onset_at": LocalDateTimeInput, "resolved_at": LocalDateTimeInput,
                   "notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("onset_at", _now_local())
        super().__init__(*args, **kwargs)
        self.fields["symptom"].queryset = SymptomType.objects.filter(is_active=True)


class SideEffectUpdateForm(forms.ModelForm):
    """Resolution, intervention and notes recorded as the event unfolds."""

    class Meta:
        model = SideEffectObservation
        fields = ("resolved_at", "intervention", "severity", "is_serious", "notes")
        widgets = {"resolved_at": LocalDateTimeInput,
                   "notes": forms.Textarea(attrs={"rows": 1})}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", f"observation-{kwargs['instance'].pk}")
        super().__init__(*args, **kwargs)


class CancelForm(forms.Form):
    prefix = "cancel"
    reason = forms.CharField(max_length=300)
    no_show = forms.BooleanField(required=False, label="Mark as a no-show (did not attend)")


class RemsSubmitForm(forms.Form):
    submitted_on = forms.DateField(label="Submitted on", widget=DateInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("submitted_on", timezone.localdate())
        super().__init__(*args, **kwargs)

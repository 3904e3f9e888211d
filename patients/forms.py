from django import forms

from patients.selectors import RISK_FILTERS


class PatientSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Name, MRN or date of birth",
                        widget=forms.TextInput(attrs={"placeholder": "e.g. Quill, MRN-…, "
                                                                     "1984-03-14",
                                                      "autofocus": True}))
    risk = forms.ChoiceField(
        required=False, label="Risk flag",
        choices=[("", "Any")] + [(key, label) for key, (label, _, _) in RISK_FILTERS.items()],
    )
    active_course = forms.BooleanField(required=False, label="Active course only")

    def __init__(self, *args, with_risk_flags: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_risk_flags:
            # Risk flags are clinical (clinic.permissions.sees_risk_flags). Without the field a
            # ?risk= in the address is ignored like any parameter the form does not know: no
            # filtering, and no error that would tell a flag from a typo.
            del self.fields["risk"]

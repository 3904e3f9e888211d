from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from security.services import DEMO_REFUSED_MESSAGE, is_demo_login


class DemoRefusingMixin:
    """Say clearly why a demo login is refused on a production server (DEBUG off)."""

    def clean(self):
        if not settings.DEBUG and is_demo_login(self.data.get("username"),
                                                self.data.get("password")):
            raise forms.ValidationError(DEMO_REFUSED_MESSAGE, code="demo_account")
        return super().clean()


class ClinicAuthenticationForm(DemoRefusingMixin, AuthenticationForm):
    """For the clinician pages' LoginView (authentication_form=...)."""


class ClinicAdminAuthenticationForm(DemoRefusingMixin, AdminAuthenticationForm):
    pass


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code", max_length=20, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True,
                                      "inputmode": "numeric", "size": 12}),
        help_text="The 6-digit code from your authenticator app, or one of your backup codes.",
    )

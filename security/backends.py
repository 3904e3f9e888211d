from django.conf import settings
from django.contrib.auth.backends import ModelBackend

from security.services import is_demo_login


class ClinicModelBackend(ModelBackend):
    """ModelBackend that refuses the published demo credentials unless DEBUG is on.

    The login form says why (security.forms.ClinicAuthenticationForm); this is the backstop for
    any other way in.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not settings.DEBUG and is_demo_login(username, password):
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

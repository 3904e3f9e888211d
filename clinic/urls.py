from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path

from clinic.views import account, favicon, healthz
from security.forms import ClinicAuthenticationForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("account/", account, name="account"),
    path("security/", include("security.urls")),  # second-factor pages
    path("reminders/", include("sessions.reminder_urls")),
    # The clinician pages' login: refuses the demo accounts with DEBUG off (axes locks out
    # through its authentication backend). Mounted before the include below so it wins.
    path("accounts/login/", LoginView.as_view(authentication_form=ClinicAuthenticationForm,
                                              redirect_authenticated_user=True), name="login"),
    # Logout and password change; the URL name "login" is what LOGIN_URL points to.
    path("accounts/", include("django.contrib.auth.urls")),
    path("patients/", include("patients.urls")),
    path("", include("sessions.urls")),
]

from django.contrib import admin
from django.contrib.auth.views import (
    LoginView,
    LogoutView,
    PasswordChangeDoneView,
    PasswordChangeView,
)
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
    # Logout and password change. No self-service password reset: it was open to anyone with
    # no rate limit, and reset links by email would let a mailbox stand in for the second
    # factor; a forgotten password is reset by the clinic admin (README, Security).
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", PasswordChangeDoneView.as_view(),
         name="password_change_done"),
    path("patients/", include("patients.urls")),
    path("", include("sessions.urls")),
]

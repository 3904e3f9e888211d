from django.contrib import admin
from django.urls import include, path

from clinic.views import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("security/", include("security.urls")),  # second-factor pages
    path("reminders/", include("sessions.reminder_urls")),
    # Login, logout and password change; the URL name "login" is what LOGIN_URL points to.
    path("accounts/", include("django.contrib.auth.urls")),
    path("patients/", include("patients.urls")),
    path("", include("sessions.urls")),
]

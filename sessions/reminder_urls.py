from django.urls import path

from sessions.reminder_views import reminder_opt_out

urlpatterns = [
    path("opt-out/<str:token>/", reminder_opt_out, name="reminder_opt_out"),
]

from django.urls import path

from sessions import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sessions/<int:pk>/", views.session_detail, name="session_detail"),
    path("sessions/<int:pk>/start/", views.session_start, name="session_start"),
    path("sessions/<int:pk>/cancel/", views.session_cancel, name="session_cancel"),
    path("sessions/<int:pk>/vitals/", views.vital_sign_add, name="vital_sign_add"),
    path("sessions/<int:pk>/side-effects/", views.side_effect_add, name="side_effect_add"),
    path("sessions/<int:pk>/side-effects/<int:observation_pk>/", views.side_effect_update,
         name="side_effect_update"),
    path("sessions/<int:pk>/step/<slug:step>/", views.session_step, name="session_step"),
    path("sessions/<int:pk>/rems/", views.rems_record, name="rems_record"),
    path("sessions/<int:pk>/rems/submit/", views.rems_submit, name="rems_submit"),
]

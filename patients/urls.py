from django.urls import path

from patients import views

urlpatterns = [
    path("", views.patient_search, name="patient_search"),
    path("<int:pk>/", views.patient_history, name="patient_history"),
    path("<int:pk>/sessions.csv", views.patient_sessions_csv, name="patient_sessions_csv"),
    path("<int:pk>/side-effects.csv", views.patient_side_effects_csv,
         name="patient_side_effects_csv"),
]

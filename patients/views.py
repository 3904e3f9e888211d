"""Patient search, the patient history and its CSV export. Thin: reads come from selectors."""

import csv

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from audit.services import patient_access_record
from clinic.permissions import CLINICAL_VIEW, requires, sees_risk_flags
from patients import selectors
from patients.forms import PatientSearchForm
from patients.models import Patient
from sessions.selectors import (
    SESSION_CSV_HEADER,
    SIDE_EFFECT_CSV_HEADER,
    sessions_csv_rows,
    side_effects_csv_rows,
)


@requires("patients.view_patient")
def patient_search(request):
    with_risk_flags = sees_risk_flags(request.user)
    form = PatientSearchForm(request.GET or None, with_risk_flags=with_risk_flags)
    filters = form.cleaned_data if form.is_valid() else {}
    patients = selectors.patient_search(query=filters.get("q", ""),
                                        risk=filters.get("risk", ""),
                                        active_course=filters.get("active_course", False),
                                        with_risk_flags=with_risk_flags)
    page = Paginator(patients, settings.PATIENT_SEARCH_PAGE_SIZE).get_page(
        request.GET.get("page"))
    rows = [(patient, selectors.patient_risk_flags(patient) if with_risk_flags else None)
            for patient in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "patients/search.html", {
        "form": form, "page": page, "rows": rows, "querystring": query.urlencode(),
        "today": timezone.localdate(), "can_see_history": request.user.has_perms(CLINICAL_VIEW),
        "with_risk_flags": with_risk_flags,
    }, status=200 if form.is_valid() or not request.GET else 400)


@requires(*CLINICAL_VIEW)
def patient_history(request, pk: int):
    # Charts cover every session; the timeline shows a page of them (newest first), so a
    # patient with hundreds of sessions renders as quickly as one with a few.
    history = selectors.patient_history(patient_id=pk, page=request.GET.get("page"))
    patient_access_record(request=request, patient=history.patient, what="patient history")
    return render(request, "patients/history.html", {"history": history,
                                                     "timeline": history.timeline,
                                                     "patient": history.patient})


# Spreadsheet programs run a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_response(filename: str, header, rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return response


@requires(*CLINICAL_VIEW)
def patient_sessions_csv(request, pk: int):
    patient = get_object_or_404(Patient, pk=pk)
    patient_access_record(request=request, patient=patient, what="sessions CSV export")
    return _csv_response(f"{patient.mrn}-sessions.csv", SESSION_CSV_HEADER,
                         sessions_csv_rows(patient=patient))


@requires(*CLINICAL_VIEW)
def patient_side_effects_csv(request, pk: int):
    patient = get_object_or_404(Patient, pk=pk)
    patient_access_record(request=request, patient=patient, what="side effects CSV export")
    return _csv_response(f"{patient.mrn}-side-effects.csv", SIDE_EFFECT_CSV_HEADER,
                         side_effects_csv_rows(patient=patient))

"""Writes of the audit trail."""

from django.http import HttpRequest

from audit.models import PatientAccess
from patients.models import Patient


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the web server saw it. Behind a proxy that sets
    SECURE_PROXY_SSL_HEADER the proxy's REMOTE_ADDR is what is logged unless the deployment
    rewrites REMOTE_ADDR (gunicorn --forwarded-allow-ips does)."""
    return request.META.get("REMOTE_ADDR") or None


def patient_access_record(*, request: HttpRequest, patient: Patient, what: str) -> PatientAccess:
    """Log that ``request.user`` viewed ``what`` of ``patient``'s record. ``what`` names the
    page or export, never a clinical value."""
    return PatientAccess.objects.create(
        user=request.user, patient=patient, ip_address=client_ip(request),
        what=what[:200], path=request.path[:300],
    )

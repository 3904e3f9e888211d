"""Writes of the audit trail."""

from django.http import HttpRequest

from audit.models import PatientAccess, SecurityEvent
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


def security_event_record(*, target, what: str, details: str = "",
                          request: HttpRequest | None = None) -> SecurityEvent:
    """Log a change to ``target``'s privileges. The actor and IP come from ``request``, the
    one being answered; with none (a script) or an anonymous one, the actor is left empty.
    ``details`` names groups or permissions, never a password."""
    user = getattr(request, "user", None)
    actor_id = user.pk if user is not None and user.is_authenticated else None
    return SecurityEvent.objects.create(
        actor_id=actor_id, target=target, what=what, details=details[:300],
        ip_address=client_ip(request) if request is not None else None,
    )

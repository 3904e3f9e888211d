"""Server-side access checks shared by the clinician pages.

Every page names the Django model permissions it needs (the role groups of
`sessions/roles.py` grant them). Anonymous users are sent to the login page; a logged-in user
without the permissions gets 403, never a half-rendered page.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

# What it takes to see clinical data (vitals, doses, side effects): Nurse and Clinician have
# these, Front desk does not.
CLINICAL_VIEW = (
    "patients.view_patient",
    "treatment_sessions.view_treatmentsession",
    "treatment_sessions.view_administration",
    "treatment_sessions.view_vitalsign",
    "treatment_sessions.view_sideeffectobservation",
)

# A fact derived from clinical data is as clinical as its source, so it is shown only to whoever
# may read the source. A risk flag says a patient has a panic disorder, heart disease or takes an
# interacting drug (their conditions and medications); a clinician safety alert, and its cause,
# say they had a severe side effect or answered the self-harm question (side effects and
# consultations). Nurses and clinicians hold both; front desk and the clinic admin neither.
RISK_FLAG_VIEW = ("patients.view_condition", "patients.view_medication")
CLINICIAN_ALERT_VIEW = (
    "treatment_sessions.view_sideeffectobservation",
    "treatment_sessions.view_consultation",
)


def sees_risk_flags(user) -> bool:
    """May `user` see risk flags, or filter patients by them?"""
    return user.has_perms(RISK_FLAG_VIEW)


def sees_clinician_alerts(user) -> bool:
    """May `user` see clinician safety alerts and what caused any reminder?"""
    return user.has_perms(CLINICIAN_ALERT_VIEW)


def requires(*permissions: str) -> Callable:
    """Decorate a view: login required, then every permission in `permissions`."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not request.user.has_perms(permissions):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_permissions = permissions
        return wrapped

    return decorator

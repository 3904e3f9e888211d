"""Session lifetime, the second-factor gate and no-store caching, for every page (admin and
clinician pages alike)."""

import contextlib
import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_cache_control

LOGIN_AT_KEY = "security_login_at"
LAST_SEEN_KEY = "security_last_seen"
# Writing the session on every request would cost a query each time; a minute's slack in the
# idle clock costs nothing.
LAST_SEEN_RESOLUTION_SECONDS = 60


def now_timestamp() -> float:
    return time.time()


def login_url(request) -> str:
    admin_prefix = reverse("admin:index")
    if request.path.startswith(admin_prefix):
        return reverse("admin:login")
    try:
        return reverse(settings.LOGIN_URL)
    except NoReverseMatch:
        return reverse("admin:login")


def _with_next(url: str, request) -> str:
    return f"{url}?{urlencode({'next': request.get_full_path()})}"


class SessionTimeoutMiddleware:
    """Log out after SESSION_IDLE_TIMEOUT without a request, and SESSION_ABSOLUTE_TIMEOUT after
    login whatever the activity."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = now_timestamp()
            session = request.session
            login_at = session.get(LOGIN_AT_KEY, now)
            last_seen = session.get(LAST_SEEN_KEY, now)
            idle = settings.SESSION_IDLE_TIMEOUT.total_seconds()
            absolute = settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds()
            reason = None
            if now - login_at > absolute:
                reason = (f"Your session ended {settings.SESSION_ABSOLUTE_TIMEOUT} after you "
                          "logged in. Please log in again.")
            elif now - last_seen > idle:
                minutes = int(idle // 60)
                reason = (f"You were logged out after {minutes} minutes without activity. "
                          "Please log in again.")
            if reason:
                # A timeout ends this browser's session only; logging out ends them all.
                request.session_timed_out = True
                logout(request)
                messages.warning(request, reason)
                return HttpResponseRedirect(_with_next(login_url(request), request))
            if LOGIN_AT_KEY not in session:
                session[LOGIN_AT_KEY] = now
            if now - last_seen >= LAST_SEEN_RESOLUTION_SECONDS or LAST_SEEN_KEY not in session:
                session[LAST_SEEN_KEY] = now
        return self.get_response(request)


class TwoFactorRequiredMiddleware:
    """Clinicians, clinic admins and superusers see nothing but the second-factor pages until
    they have entered a TOTP (or backup) code in this session."""

    EXEMPT_URL_NAMES = ("security:verify", "security:setup", "admin:logout", "logout",
                        "admin:jsi18n")

    def __init__(self, get_response):
        self.get_response = get_response
        self._exempt = None

    def exempt_paths(self) -> set[str]:
        if self._exempt is None:
            paths = set()
            for name in self.EXEMPT_URL_NAMES:
                with contextlib.suppress(NoReverseMatch):
                    paths.add(reverse(name))
            self._exempt = paths
        return self._exempt

    def __call__(self, request):
        from security.services import has_confirmed_totp, two_factor_required

        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated and not user.is_verified()
                and request.path not in self.exempt_paths()
                and not request.path.startswith(settings.STATIC_URL if
                                                settings.STATIC_URL.startswith("/")
                                                else "/" + settings.STATIC_URL)
                and two_factor_required(user)):
            target = "security:verify" if has_confirmed_totp(user) else "security:setup"
            return HttpResponseRedirect(_with_next(reverse(target), request))
        return self.get_response(request)


class NoStoreMiddleware:
    """Nothing shown to a logged-in user (patient data) is kept by browsers or proxies."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, no_cache=True, must_revalidate=True,
                                private=True, max_age=0)
        return response


class RejectNullCharactersMiddleware:
    """A NUL character in a query or form parameter is refused with 400 before any view runs:
    PostgreSQL cannot store or compare text containing NUL, so an admin search for "\\x00"
    would otherwise be a 500 (forms already refuse it; lookups and searches do not)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for params in [request.GET] + ([request.POST] if request.method == "POST" else []):
            for key, values in params.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    return HttpResponseBadRequest(
                        "Request parameters may not contain NUL characters.",
                        content_type="text/plain")
        return self.get_response(request)

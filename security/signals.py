"""Track each staff login's session so logout can end all of them, and stamp the login time
the absolute session timeout counts from."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from security import services
from security.middleware import LAST_SEEN_KEY, LOGIN_AT_KEY, now_timestamp


@receiver(user_logged_in, dispatch_uid="security_session_register")
def _session_register(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    stamp = now_timestamp()
    request.session[LOGIN_AT_KEY] = stamp
    request.session[LAST_SEEN_KEY] = stamp
    if request.session.session_key is None:
        request.session.save()
    services.staff_session_register(user=user, session_key=request.session.session_key)


@receiver(user_logged_out, dispatch_uid="security_sessions_end")
def _sessions_end(sender, request, user, **kwargs):
    if user is None:
        return
    if getattr(request, "session_timed_out", False):
        # An idle tab timing out ends that browser's session (logout flushes it next), not the
        # user's sessions on other computers.
        services.staff_session_forget(session_key=request.session.session_key)
    else:
        services.staff_sessions_end(user=user)

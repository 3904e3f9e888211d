"""One SMTP connection per worker process, reused from one reminder to the next.

Opening a connection per email (connect, greeting, EHLO, then QUIT) costs more round trips than
sending the message itself; a worker sending thousands of reminders keeps one open instead.
Nothing about delivery changes: a send that fails on the shared connection closes it (the next
send opens a fresh one) and goes through the send task's usual retry path, and each reminder
is still marked sent only after the server accepted it.

Reused only for the SMTP backend (the file backend would write every email into one file),
only in the process that opened it (a forked child never touches its parent's socket), only
while the email settings are unchanged, and only after less than MAX_IDLE_SECONDS idle: servers
drop idle clients (RFC 5321 suggests 5 minutes), and a fresh connection beats a failed send.
"""

import contextlib
import os
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import get_connection

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
MAX_IDLE_SECONDS = 30.0


@dataclass
class _Shared:
    key: tuple
    backend: object
    last_used: float


_shared: _Shared | None = None


def _settings_key() -> tuple:
    return (os.getpid(), settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT,
            settings.EMAIL_HOST_USER, settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL,
            settings.EMAIL_TIMEOUT)


def shared_email_connection():
    """The process's open SMTP connection (opened now if needed), or None when the configured
    backend is not SMTP (the caller then lets Django open one per message, as usual)."""
    global _shared
    if settings.EMAIL_BACKEND != SMTP_BACKEND:
        return None
    key, now = _settings_key(), time.monotonic()
    if _shared is not None and (_shared.key != key or now - _shared.last_used
                                > MAX_IDLE_SECONDS):
        email_connection_discard()
    if _shared is None:
        backend = get_connection(fail_silently=False)
        backend.open()  # opened here, so send_messages() leaves it open afterwards
        _shared = _Shared(key=key, backend=backend, last_used=now)
    _shared.last_used = now
    return _shared.backend


def email_connection_discard() -> None:
    """Forget the shared connection, closing it if this process opened it (after a failed send
    its state is unknown; after a fork the socket belongs to the parent)."""
    global _shared
    shared, _shared = _shared, None
    if shared is not None and shared.key[0] == os.getpid():
        with contextlib.suppress(Exception):  # already broken: nothing more to say to it
            shared.backend.close()

import pytest

from sessions.mail_connection import email_connection_discard
from tests.support.smtp import FaultyHandler, SMTPServer


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server; Django sends to it with a 1-second timeout."""
    with SMTPServer(FaultyHandler(hang_seconds=3)) as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 1
        yield server
    email_connection_discard()  # the next test's server may reuse this port


@pytest.fixture
def fast_retries(settings):
    settings.CLINIC_REMINDERS = {"retry_backoff_seconds": 0.01, "retry_backoff_max_seconds": 0.05,
                                 "max_attempts": 4}


@pytest.fixture
def eager_celery():
    """Send tasks run in-process when published (the broker path is covered by
    tests/integration with a real worker over Redis)."""
    from clinic.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous

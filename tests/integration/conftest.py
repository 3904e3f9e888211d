"""Integration tests run against real PostgreSQL, Redis, Celery workers and an SMTP server.

`make test` runs them in its PostgreSQL + Redis pass. Run without those services they FAIL with
what to start — they are never skipped silently (the embedded pass deselects them explicitly
with -m "not integration").
"""

import shutil
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection

from tests.support.smtp import FaultyHandler, SMTPServer


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1",
                                       parsed.port or default_port), timeout=3):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def real_services():
    problems = []
    if connection.vendor != "postgresql":
        problems.append("DATABASE_URL must point at PostgreSQL (e.g. "
                        "postgres://postgres@127.0.0.1:5432/clinic); it is "
                        f"{connection.vendor}. Run `make test`, which sets it.")
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith("redis://"):
        problems.append("CELERY_BROKER_URL must point at Redis (e.g. redis://127.0.0.1:6379/11); "
                        f"it is {broker!r}. Run `make test`, which sets it.")
    elif not _reachable(broker, 6379):
        problems.append(f"Redis is not reachable at {broker}. Start it: redis-server "
                        "--daemonize yes --bind 127.0.0.1 --port 6379 --save ''")
    if not shutil.which("redis-server"):
        problems.append("redis-server is not on PATH (the broker-outage test starts its own).")
    if problems:
        pytest.fail("Integration test needs real services:\n" + "\n".join(problems),
                    pytrace=False)


@pytest.fixture
def broker_url():
    """The shared Redis database of this run, emptied so no earlier test's message lingers."""
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield settings.CELERY_BROKER_URL
    client.flushdb()


@pytest.fixture
def smtp():
    with SMTPServer(FaultyHandler()) as server:
        yield server


@pytest.fixture
def logs(tmp_path, request):
    """Child-process logs; printed when a test fails so the failure explains itself."""
    yield tmp_path
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        for log in tmp_path.glob("*.log"):
            print(f"--- {log.name} ---\n{log.read_text(errors='replace')[-4000:]}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report

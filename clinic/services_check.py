"""`python -m clinic.services_check`: fail fast, with what to start, when the PostgreSQL or
Redis that the integration run needs is not reachable."""

import os
import socket
import sys
from urllib.parse import urlparse

START_HINTS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' "
             "--appendonly no",
}


def reachable(url: str, default_port: int) -> tuple[str, int, bool]:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
    try:
        with socket.create_connection((host, port), timeout=3):
            return host, port, True
    except OSError:
        return host, port, False


def main() -> int:
    failures = []
    for name, variable, default_port in (("PostgreSQL", "DATABASE_URL", 5432),
                                         ("Redis", "CELERY_BROKER_URL", 6379)):
        url = os.environ.get(variable, "")
        if not url:
            failures.append(f"{variable} is not set for the integration run.")
            continue
        host, port, ok = reachable(url, default_port)
        if not ok:
            failures.append(f"{name} is not reachable at {host}:{port} ({variable}). "
                            f"Start it, e.g.: {START_HINTS[name]}")
    for failure in failures:
        print(f"services_check: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Settings for the test suite: the real settings, with a throw-away key and fast hashing.

DATABASE_URL and CELERY_BROKER_URL still come from the environment, so the same suite runs on
the embedded default and on PostgreSQL + Redis (see Makefile).
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-never-used-outside-the-test-suite")

from clinic.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The test client speaks plain HTTP; production keeps the redirect (check --deploy test).
SECURE_SSL_REDIRECT = False

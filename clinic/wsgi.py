import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
application = get_wsgi_application()

# gunicorn runs no system checks: a typo in the clinic policy stops it here, not at the first
# evaluation that reads it.
from clinic.checks import clinic_policy_required  # noqa: E402

clinic_policy_required()

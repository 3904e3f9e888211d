"""A nurse recording vitals as fast as the services allow, in a process of its own (with its own
database connection), until a stop file appears or the time is up.

    python -m tests.support.vitals_writer SESSION_ID NURSE_ID STOP_FILE SECONDS

Says "writing" once its first vitals are committed, then "wrote N" when it stops.
"""

import os
import sys
import time
from pathlib import Path


def main(session_id: int, nurse_id: int, stop_file: Path, seconds: float) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.test_settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from sessions import services
    from sessions.models import TreatmentSession, VitalSign

    session = TreatmentSession.objects.get(pk=session_id)
    nurse = get_user_model().objects.get(pk=nurse_id)
    deadline, written = time.monotonic() + seconds, 0
    while time.monotonic() < deadline and not stop_file.exists():
        services.vital_sign_record(session=session, recorded_by=nurse,
                                   measured_at=timezone.now(), phase=VitalSign.Phase.PERIODIC,
                                   systolic_mmhg=120, diastolic_mmhg=78, heart_rate_bpm=70,
                                   spo2_percent=98)
        written += 1
        if written == 1:
            print("writing", flush=True)
    print(f"wrote {written}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]))

"""How a moment is labelled wherever staff read it (model labels, admin headings, breadcrumbs,
messages): in the clinic's zone (settings.TIME_ZONE), with the zone's abbreviation, so nobody
has to guess whether a time is local or UTC. Storage stays UTC (USE_TZ); patient emails use
the patient's own zone (sessions/reminder_emails.py)."""

from datetime import datetime

from django.utils import timezone


def clinic_time_label(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if moment is None:
        return "—"
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    zone = local.tzname()
    return f"{local:{fmt}} {zone}" if zone else f"{local:{fmt}}"

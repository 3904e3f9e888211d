"""manage.py history_cache_warm: build the history cache of the patients the clinic will open,
after a deploy that changed how a card looks (every key is renamed) or a bulk load."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from patients import history_cache, selectors


class Command(BaseCommand):
    help = ("Build the history page's cache for patients with a session within --days of "
            "today (their record and first timeline page), where it is not built already.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=1,
                            help="sessions this many days before or after today (default 1)")

    def handle(self, *args, days: int, **options):
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        today = timezone.localdate()
        patients = selectors.patients_with_sessions_around(day=today, days=days)
        built = history_cache.warm(patients, page_size=settings.HISTORY_TIMELINE_PAGE_SIZE)
        self.stdout.write(f"History cache: {built} of {patients.count()} patients built "
                          f"(sessions within {days} day(s) of {today}).")

"""`manage.py dispatch_reminders [--loop]`: the beat task's dispatcher, without beat.

Safe to run next to beat or another copy of itself: claims are conditional, so a row is claimed
once however many dispatchers run.
"""

import time

from django.core.management.base import BaseCommand

from sessions.dispatch import reminder_dispatch_due


class Command(BaseCommand):
    help = "Claim due reminders and enqueue their send tasks (once, or every --interval seconds)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running until stopped.")
        parser.add_argument("--interval", type=float, default=60.0,
                            help="Seconds between runs with --loop (default 60).")

    def handle(self, *args, loop: bool, interval: float, **options):
        while True:
            result = reminder_dispatch_due()
            self.stdout.write(
                f"claimed {len(result.claimed)}, enqueued {result.enqueued} in "
                f"{result.tasks} send task(s), released "
                f"{result.released} (broker unavailable), gave up {result.gave_up}"
            )
            if not loop:
                return
            try:
                time.sleep(interval)
            except KeyboardInterrupt:
                return

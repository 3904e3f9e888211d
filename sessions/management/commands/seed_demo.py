from datetime import date

from django.core.management.base import BaseCommand, CommandError

from sessions.bulk_demo import bulk_seed
from sessions.demo import DEMO_ACCOUNTS, ensure_accounts, seed_demo


class Command(BaseCommand):
    help = (
        "Load synthetic demo patients and demo staff accounts (idempotent). With --patients, "
        "also generate a large synthetic data set with bulk inserts (sessions/bulk_demo.py)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=None,
                            help="Generate this many synthetic patients with bulk inserts.")
        parser.add_argument("--sessions-per-patient", type=int, default=20,
                            help="Sessions per generated patient (default 20).")
        parser.add_argument("--seed", type=int, default=1,
                            help="Random seed: the same seed and anchor give the same data.")
        parser.add_argument("--anchor", type=date.fromisoformat, default=None,
                            help="The day treated as today, YYYY-MM-DD (default: today).")

    def handle(self, *args, **options):
        if options["patients"] is None:
            result = seed_demo()
            self.stdout.write(
                f"Demo data: {result['patients_created']} patient(s) created, "
                f"{result['patients_total']} in total."
            )
        else:
            ensure_accounts()
            self._bulk(options)
        self.stdout.write("Demo logins (development only):")
        for account in DEMO_ACCOUNTS:
            role = account.role or "Superuser"
            self.stdout.write(f"  {role:<11} {account.username:<10} {account.password}")

    def _bulk(self, options):
        def progress(done, result):
            if options["verbosity"] >= 2 or done == options["patients"]:
                self.stdout.write(f"  {done} patients, {result.total_rows} rows, "
                                  f"{result.seconds:.1f} s")

        try:
            result = bulk_seed(patients=options["patients"],
                               sessions_per_patient=options["sessions_per_patient"],
                               seed=options["seed"], anchor=options["anchor"],
                               progress=progress)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Bulk data: {result.patients} patients, {result.total_rows} rows in "
            f"{result.seconds:.1f} s ({result.rows_per_second:,.0f} rows/s)."
        )
        for name, count in result.rows.items():
            self.stdout.write(f"  {name:<16} {count:>10,}")

from django.core.management.base import BaseCommand

from sessions.demo import DEMO_ACCOUNTS, seed_demo


class Command(BaseCommand):
    help = "Load synthetic demo patients and demo staff accounts (idempotent)."

    def handle(self, *args, **options):
        result = seed_demo()
        self.stdout.write(
            f"Demo data: {result['patients_created']} patient(s) created, "
            f"{result['patients_total']} in total."
        )
        self.stdout.write("Demo logins (development only):")
        for account in DEMO_ACCOUNTS:
            role = account.role or "Superuser"
            self.stdout.write(f"  {role:<11} {account.username:<10} {account.password}")

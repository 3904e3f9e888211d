from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clinic.backups import BackupError, backup_database


class Command(BaseCommand):
    help = ("Back up the clinic's database while the app runs: pg_dump's custom format on "
            "PostgreSQL, the online backup API on SQLite (docs/operations.md).")

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, default=None,
                            help="The backup file to write, or a directory for a timestamped "
                                 "file (default: a timestamped file in BACKUP_DIR, var/backups/).")

    def handle(self, *args, **options):
        try:
            written = backup_database(destination=options["out"])
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Backup written to {written}")

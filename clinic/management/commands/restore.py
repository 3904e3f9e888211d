from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clinic.backups import BackupError, database_settings, restore_database


class Command(BaseCommand):
    help = ("Restore a backup made by `manage.py backup` into an empty database "
            "(docs/operations.md).")

    def add_arguments(self, parser):
        parser.add_argument("backup", type=Path, help="The backup file.")
        parser.add_argument("--into", default=None,
                            help="The database to restore into: a database name on the "
                                 "configured PostgreSQL server, or an SQLite file "
                                 "(default: the configured database).")
        parser.add_argument("--force", action="store_true",
                            help="Restore even if the target holds tables: its contents are "
                                 "replaced by the backup's.")

    def handle(self, *args, **options):
        try:
            database = database_settings(into=options["into"])
            restore_database(source=options["backup"], database=database,
                             force=options["force"])
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Restored {options['backup']} into {database['NAME']}")

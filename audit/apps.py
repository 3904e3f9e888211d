from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from django.db.backends.signals import connection_created

        from audit import append_only, signals  # noqa: F401  (connects the handlers)

        connection_created.connect(append_only.sqlite_connection_created,
                                   dispatch_uid="audit_sqlite_functions")

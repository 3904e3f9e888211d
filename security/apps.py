from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "security"
    verbose_name = "Login security"

    def ready(self):
        import clinic.checks  # noqa: F401  (registers the custom system checks)
        from security import django_fixes, signals  # noqa: F401

        django_fixes.apply()

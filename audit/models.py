"""Who looked at which patient's record, when, from where. Never any clinical value: the row
says *what* was viewed ("admin: treatment session 12"), not what it contained.

Append-only on PostgreSQL (a trigger refuses UPDATE and DELETE; migration 0002).

``SecurityEvent`` is the other log here: who changed whose privileges (groups, permissions,
password, active/staff/superuser flags), written by the signal handlers in audit/signals.py.
"""

from django.conf import settings
from django.db import models

from clinic.local_time import clinic_time_label
from patients.models import Patient


class PatientAccess(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    accessed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    what = models.CharField(max_length=200, help_text="What was viewed, e.g. a page name.")
    path = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-accessed_at", "-id"]
        verbose_name = "patient record access"
        verbose_name_plural = "patient record accesses"
        indexes = [models.Index(fields=["patient", "-accessed_at"], name="access_patient_idx")]

    def __str__(self) -> str:
        return f"{self.user} viewed {self.what} at {clinic_time_label(self.accessed_at)}"


class SecurityEvent(models.Model):
    """A change to what an account may do, kept as evidence: unlike ``django_admin_log`` it
    cannot be edited or deleted (triggers on both databases; audit migration 0003). The
    details name groups and permissions, never a password or its hash."""

    class What(models.TextChoices):
        GROUP_ADDED = "group_added", "added to group"
        GROUP_REMOVED = "group_removed", "removed from group"
        PERMISSION_ADDED = "permission_added", "permission granted"
        PERMISSION_REMOVED = "permission_removed", "permission withdrawn"
        PASSWORD_SET = "password_set", "password set by someone else"
        PASSWORD_CHANGED = "password_changed", "password changed by its owner"
        ACTIVATED = "activated", "account activated"
        DEACTIVATED = "deactivated", "account deactivated"
        STAFF_GRANTED = "staff_granted", "staff status granted"
        STAFF_REVOKED = "staff_revoked", "staff status revoked"
        SUPERUSER_GRANTED = "superuser_granted", "superuser status granted"
        SUPERUSER_REVOKED = "superuser_revoked", "superuser status revoked"

    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # None when no request made the change: a management command, a shell, a migration.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              null=True, blank=True, related_name="+")
    target = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="+")
    what = models.CharField(max_length=30, choices=What.choices)
    details = models.CharField(max_length=300, blank=True,
                               help_text="Group or permission names; never a password.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = "security event"
        verbose_name_plural = "security events"
        indexes = [models.Index(fields=["target", "-occurred_at"], name="security_target_idx")]

    def __str__(self) -> str:
        actor = self.actor or "a script"
        return (f"{actor}: {self.get_what_display()} for {self.target} "
                f"at {clinic_time_label(self.occurred_at)}")

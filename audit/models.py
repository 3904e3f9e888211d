"""Who looked at which patient's record, when, from where. Never any clinical value: the row
says *what* was viewed ("admin: treatment session 12"), not what it contained.

Append-only on PostgreSQL (a trigger refuses UPDATE and DELETE; migration 0002).
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

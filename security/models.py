"""Login security records: hashed backup codes (a django-otp device) and the sessions each
staff member has open, so logging out ends all of them.

django-otp's own static device stores its tokens in clear text; a database dump would hand
out working second factors. These codes are stored as salted SHA-256 hashes (the codes are
random with 50 bits of entropy, so a slow password hash adds nothing but latency).
"""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin

from clinic.local_time import clinic_time_label

BACKUP_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read from paper


def hash_backup_code(code: str, salt: str) -> str:
    normalized = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(f"{salt}:{normalized}".encode()).hexdigest()


class BackupCodeDevice(ThrottlingMixin, Device):
    """One-use backup codes for when the authenticator phone is lost."""

    class Meta(Device.Meta):
        verbose_name = "backup code set"

    def verify_token(self, token) -> bool:
        if not isinstance(token, str) or not token.strip():
            return False
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        with transaction.atomic():
            for code in self.codes.select_for_update().filter(used_at__isnull=True):
                if hmac.compare_digest(code.code_hash, hash_backup_code(token, code.salt)):
                    code.used_at = timezone.now()
                    code.save(update_fields=["used_at"])
                    self.throttle_reset()
                    return True
        self.throttle_increment()
        return False

    def get_throttle_factor(self):
        return getattr(settings, "OTP_STATIC_THROTTLE_FACTOR", 1)


class BackupCode(models.Model):
    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    salt = models.CharField(max_length=32)
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"backup code {self.pk} ({'used' if self.used_at else 'unused'})"


def new_backup_code() -> str:
    raw = "".join(secrets.choice(BACKUP_CODE_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


class StaffSession(models.Model):
    """A logged-in session of a staff member (the session key), so logout ends them all."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"session of {self.user} since {clinic_time_label(self.created_at)}"

"""Login security: who needs a second factor, TOTP enrolment, backup codes, staff sessions,
and the demo accounts that must never work on a production server."""

import secrets
from importlib import import_module

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django_otp import devices_for_user
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from security.models import BackupCode, BackupCodeDevice, StaffSession, hash_backup_code
from security.models import new_backup_code as _new_code
from sessions.demo import DEMO_ACCOUNTS

TOTP_DEVICE_NAME = "Authenticator app"


def two_factor_required(user: AbstractBaseUser) -> bool:
    """Superusers and the roles in TWO_FACTOR_REQUIRED_GROUPS must pass a TOTP code."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name__in=settings.TWO_FACTOR_REQUIRED_GROUPS).exists()


def has_confirmed_totp(user: AbstractBaseUser) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@transaction.atomic
def totp_device_start(*, user: AbstractBaseUser) -> TOTPDevice:
    """The unconfirmed device being enrolled (one per user; a fresh secret if none)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def totp_config_url(device: TOTPDevice) -> str:
    return device.config_url  # otpauth://totp/...; issuer from OTP_TOTP_ISSUER


def totp_qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth URI as an SVG QR code in a data: URI (CSP allows data: images only)."""
    import segno

    return segno.make(device.config_url, error="m").svg_data_uri(scale=4)


def totp_token_now(device: TOTPDevice) -> str:
    """The current code of a device, as an authenticator app would show it (tests, demo)."""
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{code:0{device.digits}d}"


@transaction.atomic
def totp_device_confirm(*, device: TOTPDevice, token: str) -> bool:
    """Confirm an enrolment with the first code from the app; older devices are removed."""
    if not device.verify_token(token):
        return False
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return True


@transaction.atomic
def backup_codes_generate(*, user: AbstractBaseUser) -> list[str]:
    """New one-use codes, replacing the old ones. Shown once; only hashes are stored."""
    BackupCodeDevice.objects.filter(user=user).delete()
    device = BackupCodeDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    codes = [_new_code() for _ in range(settings.BACKUP_CODE_COUNT)]
    rows = []
    for code in codes:
        salt = secrets.token_hex(8)
        rows.append(BackupCode(device=device, salt=salt, code_hash=hash_backup_code(code, salt)))
    BackupCode.objects.bulk_create(rows)
    return codes


def second_factor_verify(*, user: AbstractBaseUser, token: str):
    """The confirmed device (TOTP or backup codes) that accepts ``token``, or None."""
    token = (token or "").strip()
    if not token or len(token) > 20:
        return None
    for device in devices_for_user(user, confirmed=True, for_verify=True):
        if device.verify_is_allowed()[0] and device.verify_token(token):
            return device
    return None


# --- sessions ----------------------------------------------------------------------------

def staff_session_register(*, user: AbstractBaseUser, session_key: str | None) -> None:
    if session_key:
        StaffSession.objects.update_or_create(session_key=session_key, defaults={"user": user})


def staff_session_forget(*, session_key: str | None) -> None:
    """This session is ending on its own (a timeout): stop tracking it."""
    if session_key:
        StaffSession.objects.filter(session_key=session_key).delete()


def staff_session_rekey(*, request) -> None:
    """A new session key once the second factor is verified, so a key seen before the second
    step (a shared workstation, a captured cookie) is worth nothing after it; the session
    stays tracked under its new key (logout everywhere still ends it)."""
    old_key = request.session.session_key
    request.session.cycle_key()
    StaffSession.objects.filter(session_key=old_key).update(
        session_key=request.session.session_key)


def staff_sessions_end(*, user: AbstractBaseUser) -> int:
    """End every session the user has open (logout ends them everywhere)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = list(StaffSession.objects.filter(user=user).values_list("session_key", flat=True))
    for key in keys:
        store(session_key=key).delete()
    StaffSession.objects.filter(user=user).delete()
    return len(keys)


# --- demo accounts -----------------------------------------------------------------------

DEMO_PASSWORDS = {account.username: account.password for account in DEMO_ACCOUNTS}
DEMO_REFUSED_MESSAGE = ("Demo accounts are disabled on this server (DEBUG is off). Ask the "
                        "clinic admin for your own account.")


def is_demo_login(username: str | None, password: str | None) -> bool:
    """The publicly documented demo credentials (README). Changing the password of such an
    account makes it an ordinary account."""
    return bool(username) and DEMO_PASSWORDS.get(username) == password


def demo_accounts_present() -> list[str]:
    """Usernames of accounts that still accept their published demo password."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(username__in=DEMO_PASSWORDS, is_active=True)
    return sorted(u.username for u in users if u.check_password(DEMO_PASSWORDS[u.username]))

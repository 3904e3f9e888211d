"""Second factor for tests that log in through the real forms (e.g. browser tests): give the
user a confirmed authenticator and type the code it would show."""

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


def confirmed_totp_device(user) -> TOTPDevice:
    device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=True,
                                                 defaults={"name": "Test authenticator"})
    return device


def current_code(device: TOTPDevice, drift: int = 0) -> str:
    """The code the app shows now (drift=1: the next one, for a second login in the same
    30 seconds — django-otp refuses a code twice)."""
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits,
                drift=drift)
    return f"{code:0{device.digits}d}"

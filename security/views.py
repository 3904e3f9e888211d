"""The second-factor pages: verify a code at login, enrol an authenticator app, renew backup
codes. Thin: the services decide."""

from base64 import b32encode

from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from security import services
from security.forms import TokenForm
from security.middleware import login_url


def login_required(view):
    """Like Django's, but to the login page that exists (the admin's until the clinician
    pages provide LOGIN_URL)."""

    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url(request))
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return reverse("admin:index")


def _context(request, **extra):
    return {**admin.site.each_context(request), "next": _next_url(request), **extra}


@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    if not services.has_confirmed_totp(request.user):
        return HttpResponseRedirect(reverse("security:setup"))
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.second_factor_verify(user=request.user,
                                               token=form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            services.staff_session_rekey(request=request)
            return HttpResponseRedirect(_next_url(request))
        form.add_error("token", "That code is not valid (or was already used). Try the current "
                                "code from your app.")
    return render(request, "security/verify.html",
                  _context(request, form=form, title="Two-factor verification"))


@login_required
@require_http_methods(["GET", "POST"])
def setup(request):
    if services.has_confirmed_totp(request.user) and not request.user.is_verified():
        return HttpResponseRedirect(reverse("security:verify"))
    device = services.totp_device_start(user=request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.totp_device_confirm(device=device, token=form.cleaned_data["token"]):
            otp_login(request, device)
            services.staff_session_rekey(request=request)
            codes = services.backup_codes_generate(user=request.user)
            return render(request, "security/backup_codes.html",
                          _context(request, codes=codes, title="Your backup codes"))
        form.add_error("token", "That code does not match. Check the phone's clock and enter "
                                "the code currently shown.")
    return render(request, "security/setup.html", _context(
        request, form=form, title="Set up two-factor authentication",
        secret=b32encode(device.bin_key).decode(),
        config_url=services.totp_config_url(device),
        qr_data_uri=services.totp_qr_data_uri(device),
    ))


@login_required
@require_http_methods(["GET", "POST"])
def backup_codes(request):
    """Renew backup codes (needs a verified session: the middleware sees to that for those who
    must have a second factor)."""
    if not request.user.is_verified():
        messages.error(request, "Verify with your authenticator app first.")
        return HttpResponseRedirect(reverse("security:verify"))
    if request.method == "POST":
        codes = services.backup_codes_generate(user=request.user)
        return render(request, "security/backup_codes.html",
                      _context(request, codes=codes, title="Your backup codes"))
    return render(request, "security/backup_codes.html",
                  _context(request, codes=None, title="Backup codes"))

"""Admin hardening: the login form refuses demo accounts with a clear message, and a clinic
admin who manages users cannot make anyone (themselves included) a superuser, grant raw
permissions, or take over a superuser's account."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from security.forms import ClinicAdminAuthenticationForm

admin.site.login_form = ClinicAdminAuthenticationForm

User = get_user_model()
SUPERUSER_ONLY_FIELDS = ("is_superuser", "user_permissions")


class ClinicUserAdmin(UserAdmin):
    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += [name for name in SUPERUSER_ONLY_FIELDS if name not in readonly]
        return readonly

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(is_superuser=False)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ClinicUserAdmin)

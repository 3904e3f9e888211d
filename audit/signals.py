"""Privilege changes to a user, however made (the admin, ``manage.py changepassword``, a
shell), turned into security events. Thin: they work out *what* changed and hand it to
``audit.services.security_event_record``."""

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from audit.middleware import current_request
from audit.models import SecurityEvent
from audit.services import security_event_record

User = get_user_model()
What = SecurityEvent.What

# field -> (event when it becomes True, event when it becomes False)
FLAG_EVENTS = {
    "is_active": (What.ACTIVATED, What.DEACTIVATED),
    "is_staff": (What.STAFF_GRANTED, What.STAFF_REVOKED),
    "is_superuser": (What.SUPERUSER_GRANTED, What.SUPERUSER_REVOKED),
}
WATCHED_FIELDS = frozenset({"password", *FLAG_EVENTS})
M2M_EVENTS = {  # through model -> (added, removed, how a related object is named)
    User.groups.through: (What.GROUP_ADDED, What.GROUP_REMOVED, lambda group: group.name),
    User.user_permissions.through: (
        What.PERMISSION_ADDED, What.PERMISSION_REMOVED,
        lambda permission: f"{permission.content_type.app_label}.{permission.codename}"),
}


@receiver(pre_save, sender=User, dispatch_uid="audit_user_before_save")
def remember_stored_privileges(sender, instance, raw=False, update_fields=None, **kwargs):
    instance._privileges_before = None
    if raw or instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not WATCHED_FIELDS & set(update_fields):
        return  # e.g. last_login at every login: nothing to compare, no query
    instance._privileges_before = (
        User.objects.filter(pk=instance.pk).values(*WATCHED_FIELDS).first())


@receiver(post_save, sender=User, dispatch_uid="audit_user_after_save")
def record_privilege_changes(sender, instance, created, raw=False, update_fields=None,
                             **kwargs):
    if raw:
        return
    before = getattr(instance, "_privileges_before", None)
    if created:
        # A new account: record the powers it starts with (an active account is the default).
        before = {"password": "", "is_active": True, "is_staff": False, "is_superuser": False}
    if before is None:
        return
    request = current_request()
    for field, (granted, revoked) in FLAG_EVENTS.items():
        if getattr(instance, field) != before[field]:
            security_event_record(target=instance, request=request,
                                  what=granted if getattr(instance, field) else revoked)
    if created and not instance.has_usable_password():
        return  # an account nobody can log in to yet: no password was set
    if instance.password != before["password"] and not _is_hash_upgrade(instance,
                                                                         update_fields):
        actor = getattr(request, "user", None)
        by_owner = actor is not None and actor.is_authenticated and actor.pk == instance.pk
        security_event_record(
            target=instance, request=request,
            what=What.PASSWORD_CHANGED if by_owner else What.PASSWORD_SET,
            details="" if instance.has_usable_password() else "made unusable")


def _is_hash_upgrade(instance, update_fields) -> bool:
    """Django rehashes an unchanged password at login (a stronger hasher) and, as it says
    itself, that is not a password change: it saves only the hash, with no new raw password."""
    return (update_fields is not None and set(update_fields) == {"password"}
            and instance._password is None)


def _membership_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    added, removed, name = M2M_EVENTS[sender]
    if action == "pre_clear":
        # Who or what is about to go: post_clear no longer knows.
        pk_set = set(_cleared(instance, sender, reverse).values_list("pk", flat=True))
        action = "post_remove"
    if action not in ("post_add", "post_remove") or not pk_set:
        return
    what = added if action == "post_add" else removed
    request = current_request()
    if reverse:  # group.user_set.add(user, …): one event per user
        for user in User.objects.filter(pk__in=pk_set).order_by("pk"):
            security_event_record(target=user, request=request, what=what,
                                  details=name(instance))
    else:
        objects = model.objects.filter(pk__in=pk_set)
        if model._meta.model_name == "permission":
            objects = objects.select_related("content_type")
        names = sorted(name(related) for related in objects)
        security_event_record(target=instance, request=request, what=what,
                              details=", ".join(names))


def _cleared(instance, sender, reverse):
    if reverse:  # a group or permission losing all its users
        return instance.user_set.all()
    return (instance.groups.all() if sender is User.groups.through
            else instance.user_permissions.all())


for _through in M2M_EVENTS:
    m2m_changed.connect(_membership_changed, sender=_through,
                        dispatch_uid=f"audit_{_through._meta.model_name}_changed")

"""Optimistic locking: every save of a versioned record bumps its ``version``; a form that was
rendered from an older version is refused instead of silently overwriting a colleague's change.

The bump lives in ``save()`` because it is bookkeeping, like ``auto_now``: every writer (the
services, the admin, a script) gets it, including ``save(update_fields=...)``.
"""

from django.db import models
from django.utils import timezone

from sessions.errors import WorkflowError


class Versioned(models.Model):
    # Editable so forms can carry it (audit.forms.VersionedModelForm renders it hidden); blank
    # so a form that does not carry it is not refused for that alone.
    version = models.PositiveIntegerField(
        default=0, blank=True, help_text="Bumped on every save (optimistic locking).",
    )

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.version = (self.version or 0) + 1
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "version"}
        super().save(*args, **kwargs)


def stale_message(instance) -> str:
    """"Changed by <user> at <time>, reload" — from the record's audit history."""
    who, when = "another user", None
    history = getattr(instance, "history", None)
    if history is not None:
        latest = history.order_by("-history_date", "-history_id").first()
        if latest is not None:
            when = latest.history_date
            user = latest.history_user
            if user is not None:
                who = user.get_full_name() or user.get_username()
    at = f" at {timezone.localtime(when):%Y-%m-%d %H:%M}" if when else ""
    return (f"This {instance._meta.verbose_name} was changed by {who}{at} after you opened it. "
            "Open the page again to see the change (the browser's reload would send your old "
            "page again), then enter yours.")


def version_check(*, instance, submitted_version: int | None) -> None:
    """Refuse a write based on a stale copy of ``instance``.

    Locks the row (``select_for_update``) so, inside the request's transaction, a concurrent
    writer waits for this one and then sees the bumped version.
    """
    if instance.pk is None:
        return
    model = type(instance)
    current = (model._default_manager.select_for_update().filter(pk=instance.pk)
               .values_list("version", flat=True).first())
    if current is None:
        raise WorkflowError(f"This {model._meta.verbose_name} no longer exists; reload the page.")
    if submitted_version is None or submitted_version != current:
        raise WorkflowError(stale_message(model._default_manager.get(pk=instance.pk)))

"""Every URL the project serves, with real object ids filled in.

``walk()`` iterates the root URLconf recursively (the admin included, and whatever pages are
added later) and yields one ``Route`` per pattern; ``concrete_urls(dataset)`` turns each into
URLs to request, taking object ids from a seeded dataset. Tests of permissions, CSRF and
escaping iterate these, so a new page is covered (or the test says what to add) without
anyone remembering to list it.
"""

from dataclasses import dataclass, field

from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver

ADMIN_MODEL_KINDS = {
    # route suffix after admin/<app>/<model>/ -> kind
    "": "changelist",
    "add/": "add",
    "<path:object_id>/history/": "history",
    "([^/]+)/history/([^/]+)/": "history_version",  # django-simple-history, positional
    "<path:object_id>/delete/": "delete",
    "<path:object_id>/change/": "change",
    "<path:object_id>/": "object_redirect",
    "<id>/password/": "password",
    "<int:pk>/config/": "device_config",  # django-otp: shows the device's secret
    "<int:pk>/qrcode/": "device_qrcode",
    "<path:object_id>/archive/": "record_action",  # patients: GET asks, POST archives
    "<path:object_id>/restore/": "record_action",
}


@dataclass(frozen=True)
class Route:
    route: str  # the full pattern, e.g. "admin/patients/patient/<path:object_id>/change/"
    name: str | None  # namespaced URL name, e.g. "admin:patients_patient_change"
    kwarg_names: tuple[str, ...] = field(default=())
    positional: int = 0  # unnamed regex groups (django-simple-history's version page)

    @property
    def key(self) -> str:
        return self.name or self.route


def _pattern_text(pattern) -> str:
    return str(pattern.pattern)


def _kwarg_names(pattern) -> tuple[str, ...]:
    converters = getattr(pattern.pattern, "converters", None)
    if converters:
        return tuple(converters)
    regex = getattr(pattern.pattern, "regex", None)
    return tuple(regex.groupindex) if regex is not None else ()


def _positional(pattern) -> int:
    regex = getattr(pattern.pattern, "regex", None)
    if regex is None or getattr(pattern.pattern, "converters", None):
        return 0
    return regex.groups - len(regex.groupindex)


def walk(resolver: URLResolver | None = None, prefix: str = "", namespace: str = "",
         kwarg_names: tuple[str, ...] = (), positional: int = 0):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        text = prefix + _pattern_text(pattern)
        names = kwarg_names + _kwarg_names(pattern)
        count = positional + _positional(pattern)
        if isinstance(pattern, URLResolver):
            child_namespace = namespace
            if pattern.namespace:
                child_namespace = f"{namespace}{pattern.namespace}:"
            yield from walk(pattern, text, child_namespace, names, count)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else None
            yield Route(route=text, name=name, kwarg_names=names, positional=count)


def admin_model_route(route: Route):
    """(model, kind) for a per-model admin URL, else None."""
    for model in admin.site._registry:
        base = f"admin/{model._meta.app_label}/{model._meta.model_name}/"
        if route.route.startswith(base):
            suffix = route.route[len(base):].lstrip("^").rstrip("$")
            kind = ADMIN_MODEL_KINDS.get(suffix)
            if kind is None:
                raise AssertionError(
                    f"Admin URL {route.route!r} ({route.name}) is of a kind the URL walk does "
                    f"not know: add its suffix {suffix!r} to tests/urlwalk.py ADMIN_MODEL_KINDS "
                    "and its expectation to tests/security/test_url_permissions.py.")
            return model, kind
    return None

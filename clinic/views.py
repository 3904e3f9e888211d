"""Project-level views that belong to no app."""

from django.db import connection
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache

from clinic.permissions import requires


@never_cache
def healthz(request):
    """Liveness for a load balancer: the app answers and reaches its database.

    For a logged-in user it also names them, which loads the session and the user: the
    benchmark uses it as the cheapest possible authenticated page, the yardstick the real
    pages are compared with.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    who = request.user.get_username() if request.user.is_authenticated else "anonymous"
    return HttpResponse(f"ok {who}\n", content_type="text/plain")


def favicon(request):
    """Browsers ask for /favicon.ico on a page that names no icon; answer with the static
    file's address rather than a 404 in every page's log."""
    return redirect(static("favicon.ico"))


@requires()
def account(request):
    """Who is signed in: name, roles and the second factor, with the links to change them.

    The cheapest page in the site's layout that needs a login: the benchmark's yardstick for
    the clinician pages (healthz measures the request plumbing alone, without a template).
    """
    user = request.user
    return render(request, "account.html", {
        "roles": [group.name for group in user.groups.order_by("name")],
        "two_factor_verified": getattr(user, "is_verified", lambda: False)(),
    })

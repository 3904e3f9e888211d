"""The request being answered, for signal handlers that have none.

A signal sent by ``User.save()`` or ``user.groups.add()`` carries no request, yet the security
log must say who made the change and from where. This middleware keeps the request in a
context variable while the view runs; outside a request (a management command, a shell, a
Celery task) there is none, and the change is recorded with no actor.
"""

from contextvars import ContextVar

from django.http import HttpRequest

_current_request: ContextVar[HttpRequest | None] = ContextVar("audit_current_request",
                                                              default=None)


def current_request() -> HttpRequest | None:
    return _current_request.get()


class CurrentRequestMiddleware:
    """Placed after AuthenticationMiddleware, so ``request.user`` is there to be read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)

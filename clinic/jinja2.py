"""The Jinja2 environment of the few templates rendered many times a page (settings.TEMPLATES):
the history's session card, rendered once per session shown whenever a record is built. Django's
template language took ~5 ms for a page of ten cards, Jinja2 ~1.7 ms, for the same HTML.

Autoescaping is on (Django's backend default) and undefined names raise: a card must never
quietly show an empty value where a field was misnamed."""

from django.urls import reverse
from jinja2 import Environment, StrictUndefined


def url(name: str, *args) -> str:
    return reverse(name, args=args)


def environment(**options) -> Environment:
    env = Environment(**{**options, "undefined": StrictUndefined})
    env.globals["url"] = url
    return env

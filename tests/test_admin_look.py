"""What every page loads is there: the favicon browsers ask for at /favicon.ico (a 404 on every
admin page before), and the admin's own stylesheet and icon link."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def static_served(settings):
    """Serve static files from the finders, as `make run` does (the suite runs no
    collectstatic); a new Client loads the middleware with these settings."""
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    return Client()


def test_favicon_ico_leads_to_an_icon_for_anyone(static_served):
    response = static_served.get("/favicon.ico", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0].endswith("/favicon.ico")
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_admin_pages_name_the_icon_and_load_the_clinic_stylesheet(static_served, nurse):
    static_served.force_login(nurse)
    html = static_served.get(reverse("admin:index")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg"' in html
    assert '<link rel="stylesheet" href="/static/css/admin.css">' in html
    for path in ("/static/favicon.svg", "/static/css/admin.css"):
        assert static_served.get(path).status_code == 200, path

"""A clinic admin manages staff accounts but cannot make anyone a superuser, grant raw
permissions, or take over a superuser's account."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.admin_forms import form_data
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic_admin_client():
    client = Client()
    client.force_login(UserFactory(username="office", role="Clinic admin"))
    return client


def test_clinic_admin_cannot_make_a_user_superuser(clinic_admin_client):
    nurse = UserFactory(username="plain-nurse", role="Nurse")
    url = reverse("admin:auth_user_change", args=(nurse.pk,))
    page = clinic_admin_client.get(url)
    assert page.status_code == 200
    data = form_data(page)
    assert "is_superuser" not in data and "user_permissions" not in data
    data.update(is_superuser="on", user_permissions=["1", "2"], first_name="Renamed")
    assert clinic_admin_client.post(url, data).status_code == 302
    nurse.refresh_from_db()
    assert nurse.first_name == "Renamed"  # the ordinary edit went through
    assert not nurse.is_superuser and not nurse.user_permissions.exists()


def test_clinic_admin_cannot_see_or_change_superusers(clinic_admin_client):
    root = UserFactory(username="the-root", is_superuser=True)
    listing = clinic_admin_client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert "the-root" not in listing
    assert clinic_admin_client.get(reverse("admin:auth_user_password_change",
                                           args=(root.pk,))).status_code in (302, 403, 404)
    clinic_admin_client.post(reverse("admin:auth_user_password_change", args=(root.pk,)),
                             {"password1": "taken-over-pass-1234",
                              "password2": "taken-over-pass-1234"})
    root.refresh_from_db()
    assert not root.check_password("taken-over-pass-1234")
    assert get_user_model().objects.get(pk=root.pk).is_superuser

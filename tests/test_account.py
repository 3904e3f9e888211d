"""/account/: who is signed in, in what role, and whether the second factor was used."""

import pytest
from django.urls import reverse

from tests.conftest import force_login_password_only

pytestmark = pytest.mark.django_db


def test_account_page_names_the_user_their_role_and_the_second_factor(client, clinician):
    client.force_login(clinician)  # the second factor included, as after a real login
    page = client.get(reverse("account")).content.decode()
    assert "(clinician1)" in page and "Clinician" in page
    assert "verified for this session" in page
    assert reverse("password_change") in page


def test_account_page_says_when_no_second_factor_was_used(client, nurse):
    force_login_password_only(client, nurse)
    page = client.get(reverse("account")).content.decode()
    assert "Nurse" in page and "not used in this session" in page


def test_account_page_needs_a_login(client):
    response = client.get(reverse("account"))
    assert response.status_code == 302 and reverse("login") in response["Location"]

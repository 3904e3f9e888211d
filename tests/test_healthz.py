"""/healthz: a load balancer's liveness check, and the benchmark's trivial authenticated page."""

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok anonymous\n"
    assert "no-cache" in response["Cache-Control"]


def test_healthz_names_the_logged_in_user(client, nurse):
    client.force_login(nurse)
    assert client.get("/healthz").content == b"ok nurse1\n"

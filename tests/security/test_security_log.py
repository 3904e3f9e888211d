"""Every change to what an account may do — its groups, permissions, password, and whether it
is active, staff or superuser — leaves a row in the security log: who, whom, what, when, from
where. The log is evidence: the database refuses to edit or delete it, and the admin only
shows it, to the clinic admin and the superuser."""

import getpass
from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.test import Client
from django.urls import reverse

from audit.models import SecurityEvent
from tests.admin_forms import form_data, page_form_data
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

IP = "192.0.2.44"
What = SecurityEvent.What


@pytest.fixture
def office():
    return UserFactory(username="office", role="Clinic admin")


@pytest.fixture
def office_client(office):
    client = Client(REMOTE_ADDR=IP)
    client.force_login(office)
    return client


@pytest.fixture
def root_client(superuser):
    client = Client(REMOTE_ADDR=IP)
    client.force_login(superuser)
    return client


@pytest.fixture
def casey(db):
    """A nurse whose account was set up before the test (those events are not the test's)."""
    nurse = UserFactory(username="casey", role="Nurse")
    nurse.events_before_the_test = set(
        SecurityEvent.objects.filter(target=nurse).values_list("pk", flat=True))
    return nurse


def events_for(user, *whats):
    """The events about ``user`` since the test began."""
    return list(SecurityEvent.objects.filter(target=user, what__in=whats)
                .exclude(pk__in=getattr(user, "events_before_the_test", ()))
                .order_by("pk"))


def submit_user_form(client, user, **changes):
    url = reverse("admin:auth_user_change", args=(user.pk,))
    data = form_data(client.get(url))
    data.update(changes)
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_clinic_admin_adding_a_nurse_to_a_group_is_logged_with_who_whom_and_ip(
        office_client, office, casey):
    groups = [str(group.pk) for group in casey.groups.all()]
    front_desk = Group.objects.get(name="Front desk")
    submit_user_form(office_client, casey, groups=[*groups, str(front_desk.pk)])

    [event] = events_for(casey, What.GROUP_ADDED)
    assert (event.actor, event.target, event.details, event.ip_address) == (
        office, casey, "Front desk", IP)
    assert event.occurred_at is not None
    assert not events_for(casey, What.GROUP_REMOVED)


def test_removing_a_group_in_the_admin_is_logged(office_client, office, casey):
    submit_user_form(office_client, casey, groups=[])
    [event] = events_for(casey, What.GROUP_REMOVED)
    assert (event.actor, event.details) == (office, "Nurse")


def test_password_reset_by_the_admin_is_logged_without_the_password(office_client, office,
                                                                    casey):
    url = reverse("admin:auth_user_password_change", args=(casey.pk,))
    data = form_data(office_client.get(url))
    data.update(password1="new-Clinic-pass-4821", password2="new-Clinic-pass-4821")
    assert office_client.post(url, data).status_code == 302
    casey.refresh_from_db()
    assert casey.check_password("new-Clinic-pass-4821")

    [event] = events_for(casey, What.PASSWORD_SET, What.PASSWORD_CHANGED)
    assert (event.what, event.actor, event.ip_address) == (What.PASSWORD_SET, office, IP)
    assert "new-Clinic" not in event.details and casey.password not in event.details


def test_changing_ones_own_password_is_logged_as_by_its_owner(casey):
    client = Client(REMOTE_ADDR=IP)
    client.force_login(casey)
    response = client.post(reverse("password_change"), {
        "old_password": "correct-horse-battery-9",
        "new_password1": "my-Own-new-pass-7310", "new_password2": "my-Own-new-pass-7310"})
    assert response.status_code == 302
    [event] = events_for(casey, What.PASSWORD_SET, What.PASSWORD_CHANGED)
    assert (event.what, event.actor) == (What.PASSWORD_CHANGED, casey)


def test_deactivating_an_account_is_logged(office_client, office, casey):
    url = reverse("admin:auth_user_change", args=(casey.pk,))
    data = form_data(office_client.get(url))
    data.pop("is_active")  # the box unticked: a browser sends nothing
    assert office_client.post(url, data).status_code == 302
    casey.refresh_from_db()
    assert not casey.is_active
    [event] = events_for(casey, What.DEACTIVATED)
    assert (event.actor, event.ip_address) == (office, IP)


def test_a_superuser_granting_superuser_status_is_logged(root_client, superuser, casey):
    submit_user_form(root_client, casey, is_superuser="on")
    [event] = events_for(casey, What.SUPERUSER_GRANTED)
    assert (event.actor, event.ip_address) == (superuser, IP)


def test_a_permission_granted_in_the_admin_names_the_permission(root_client, superuser,
                                                                 casey):
    permission = Permission.objects.get(codename="override_evaluation_block")
    submit_user_form(root_client, casey, user_permissions=[str(permission.pk)])
    [event] = events_for(casey, What.PERMISSION_ADDED)
    assert (event.actor, event.details) == (
        superuser, "treatment_sessions.override_evaluation_block")


def test_a_change_made_by_a_script_is_logged_with_no_actor(casey):
    casey.groups.add(Group.objects.get(name="Clinician"))
    casey.is_staff = False
    casey.save()
    Group.objects.get(name="Nurse").user_set.remove(casey)

    logged = [(event.what, event.details, event.actor, event.ip_address)
              for event in events_for(casey, *What.values)]
    assert logged == [(What.GROUP_ADDED, "Clinician", None, None),
                      (What.STAFF_REVOKED, "", None, None),
                      (What.GROUP_REMOVED, "Nurse", None, None)]


def test_manage_py_changepassword_is_logged_with_no_actor(casey, monkeypatch):
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "script-Set-pass-5521")
    call_command("changepassword", "casey", stdout=StringIO())
    [event] = events_for(casey, What.PASSWORD_SET, What.PASSWORD_CHANGED)
    assert (event.what, event.actor, event.ip_address) == (What.PASSWORD_SET, None, None)


def test_a_login_is_not_a_privilege_change(casey):
    before = SecurityEvent.objects.count()
    response = Client().post(reverse("admin:login"), {
        "username": "casey", "password": "correct-horse-battery-9", "next": "/admin/"})
    assert response.status_code == 302
    assert SecurityEvent.objects.count() == before


@pytest.mark.parametrize("attempt", ["update", "delete"])
def test_the_database_refuses_to_edit_or_delete_a_security_event(casey, attempt):
    event = SecurityEvent.objects.filter(target=casey).first()
    rows = SecurityEvent.objects.filter(pk=event.pk)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        if attempt == "update":
            rows.update(details="tampered")
        else:
            rows.delete()
    assert SecurityEvent.objects.get(pk=event.pk).details == event.details


def test_clinic_admin_reads_the_log_but_cannot_add_change_or_delete(office_client, casey):
    event = SecurityEvent.objects.filter(target=casey).first()
    listing = office_client.get(reverse("admin:audit_securityevent_changelist"))
    assert listing.status_code == 200 and "casey" in listing.content.decode()
    page = office_client.get(reverse("admin:audit_securityevent_change", args=(event.pk,)))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert office_client.get(reverse("admin:audit_securityevent_add")).status_code == 403
    delete_url = reverse("admin:audit_securityevent_delete", args=(event.pk,))
    assert office_client.get(delete_url).status_code == 403
    assert office_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert SecurityEvent.objects.filter(pk=event.pk).exists()


def test_a_nurse_cannot_see_the_security_log(casey):
    client = Client()
    client.force_login(casey)
    assert client.get(reverse("admin:audit_securityevent_changelist")).status_code == 403


def test_an_account_created_in_the_admin_logs_its_first_password_by_the_creator(
        office_client, office):
    url = reverse("admin:auth_user_add")
    data = page_form_data(office_client.get(url), "user_form")
    data.update(username="new-hire", password1="first-Pass-for-7720",
                password2="first-Pass-for-7720")
    assert office_client.post(url, data).status_code == 302
    new_hire = User.objects.get(username="new-hire")
    [event] = events_for(new_hire, *What.values)
    assert (event.what, event.actor, event.ip_address) == (What.PASSWORD_SET, office, IP)

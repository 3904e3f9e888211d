"""Steps every browser journey takes the way a person does: log in through the real login page
(with the authenticator code for the roles that need one) and type times as the pickers take
them."""

from django.utils import timezone

from tests.security.totp import current_code

PASSWORD = "correct-horse-battery-9"  # tests.factories.UserFactory


def log_in(page, live_server, user):
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    if getattr(user, "authenticator", None) is not None:
        page.wait_for_url("**/security/2fa/verify/**")
        page.fill("#id_token", current_code(user.authenticator))
        page.click("input[type=submit][value=Verify]")
    page.wait_for_selector("text=Today,")


def local_input(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")

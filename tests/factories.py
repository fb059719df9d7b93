from __future__ import annotations

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        if create:
            self.save()
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)


# --- Staff with a second factor -----------------------------------------------------------------
# Staff pages and the admin need two-factor authentication (marketplace/staff.py). StaffFactory
# enrols an authenticator app with this secret; tests compute its codes as the app would.
STAFF_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def totp_code(secret: str = STAFF_TOTP_SECRET, *, at: float | None = None) -> str:
    """The code an authenticator app shows for ``secret`` at Unix time ``at`` (default: now)."""
    import time

    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    now = time.time() if at is None else at
    return format_hotp_value(hotp_value(secret, int(now) // app_settings.TOTP_PERIOD))


def enrol_totp(user, secret: str = STAFF_TOTP_SECRET) -> list[str]:
    """Give ``user`` an authenticator app with ``secret`` and recovery codes (returned),
    replacing any they had (the demo's admin is enrolled with a random secret by demo_seed)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP

    Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES]
    ).delete()
    TOTP.activate(user, secret)
    return RecoveryCodes.activate(user).get_unused_codes()


class StaffFactory(UserFactory):
    """Platform staff with an authenticator app enrolled (``totp=False``: without one)."""

    is_staff = True
    is_superuser = True

    @factory.post_generation
    def totp(self, create, extracted, **kwargs):
        if create and extracted is not False:
            enrol_totp(self)


def log_in_with_totp(client, user, *, secret: str = STAFF_TOTP_SECRET, password: str = PASSWORD):
    """Sign ``user`` in through the real login: email and password, then the authenticator
    code (the second factor is then fresh for money actions). Returns the client."""
    client.logout()
    response = client.post("/accounts/login/", {"login": user.email, "password": password})
    assert response.status_code == 302, response.content[:500]
    assert response["Location"].startswith("/accounts/2fa/authenticate/"), response["Location"]
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert response.status_code == 302, response.content[:2000]
    assert client.session.get("_auth_user_id") == str(user.pk)
    return client


def log_in_with_totp_in_browser(page, base_url: str, user, *, secret: str = STAFF_TOTP_SECRET):
    """The same sign-in in a real browser page: the login form, then the code form."""
    import re

    page.goto(base_url + "/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r".*/accounts/2fa/authenticate/"))
    page.fill("input[name=code]", totp_code(secret))
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(lambda url: "/accounts/" not in url)

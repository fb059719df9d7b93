"""Shared fixtures. Factories live in tests/factories.py."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _urlconf_from_the_session_settings():
    """Build the URLconf once, from the session's settings, before any test overrides them.

    ``project/urls.py`` mounts ``/sandbox/`` only when ``STRIPE_SANDBOX`` is on, read when the
    module is first imported: in a server that is fixed for the process. Left to the first request,
    the import happened inside whichever test ran first; when that was a webhook test (which sets
    ``STRIPE_SANDBOX = False``: tests/events, the buyers, payouts and sellers webhook tests...),
    every later test of the process got a URLconf without the sandbox (tests/security/
    test_sandbox_closed.py failed when run after tests/events/test_intake.py)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (imports the URLconf module now)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Hashing with the production hasher costs ~0.3 s per user; the tests do not test hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _tasks_in_process(request, settings):
    """Run Celery tasks in-process after commit, even when a broker (REDIS_URL) is configured.

    Tests marked ``celery_worker`` use a real worker against Redis instead and keep the broker:
    Celery's own switch is set from the settings for them too (the app reads its conf once, and
    an earlier test's in-process switch must not make their tasks run in the test's thread).
    """
    from marketplace.celery import app

    previous = app.conf.task_always_eager  # read before the settings change below
    if request.node.get_closest_marker("celery_worker"):
        app.conf.task_always_eager = bool(settings.CELERY_TASK_ALWAYS_EAGER)
    else:
        settings.CELERY_TASK_ALWAYS_EAGER = True
        app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _clear_cache():
    # allauth's rate limits live in the cache; a test must not inherit another's counters.
    from django.core.cache import cache

    cache.clear()
    yield


# --- Browser tests ------------------------------------------------------------------------------
# Headless Chromium driven by Playwright. Playwright cannot download its own browser here, so we
# launch the system Chromium by path; without one the browser tests are skipped with the reason.

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    import os
    import shutil

    explicit = os.environ.get("CHROMIUM_PATH")
    if explicit:
        return explicit
    for candidate in CHROMIUM_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium installed (apt-get install chromium, or set CHROMIUM_PATH)")
    import os

    # Playwright's sync API runs an event loop in this thread; Django's ORM would refuse to run
    # next to it. The tests drive the browser and the ORM from one thread, one at a time.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, settings):
    # live_server serves /static/ from the finders, which know the plain names, not the hashed
    # names of the collected manifest: render plain names in browser tests.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    # The Content-Security-Policy is enforced: whatever it blocks (an inline script without the
    # nonce, a third-party source, eval) fails the test that rendered it.
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    assert violations == [], f"CSP violations: {violations}"


# --- Staff with a second factor -----------------------------------------------------------------


@pytest.fixture
def log_in_staff(client):
    """``log_in_staff(user=None)``: sign a staff user (a new one by default, with an authenticator
    app) in on ``client`` through the real login and its second-factor step; returns the user."""
    from tests.factories import StaffFactory, log_in_with_totp

    def log_in(user=None):
        user = user or StaffFactory()
        log_in_with_totp(client, user)
        return user

    return log_in


@pytest.fixture
def fake_stripe(monkeypatch):
    """The one in-memory Stripe (tests/stripe_fake.py) in place of the gateway's functions, for
    unit tests that need a chosen failure or an exact account of the calls made; tests of whole
    flows use the sandbox."""
    from tests.stripe_fake import StripeFake

    return StripeFake().install(monkeypatch)

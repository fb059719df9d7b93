"""Settings of the standalone sandbox (``make sandbox``; ``DJANGO_SETTINGS_MODULE=
sandbox.standalone.settings``). Self-contained: the marketplace is not installed.

Environment: ``SANDBOX_PORT`` (12111), ``SANDBOX_DATABASE`` (SQLite file,
``sandbox-standalone.sqlite3``), ``SANDBOX_SITE_URL`` (``http://127.0.0.1:<port>``, the base of
hosted-page URLs the API returns), ``SANDBOX_ALLOWED_HOSTS`` (comma-separated, default the
loopback names), ``SANDBOX_WEBHOOK_DELIVERY`` (``thread``), ``SANDBOX_SECRET_KEY``,
``SANDBOX_PUBLISHABLE_KEY`` (``pk_test_sandbox``, what the stand-in Stripe.js sends).
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
HERE = Path(__file__).resolve().parent

PORT = int(os.environ.get("SANDBOX_PORT", "12111"))
DEBUG = os.environ.get("SANDBOX_DEBUG", "1") not in ("0", "false", "False", "")
SECRET_KEY = os.environ.get("SANDBOX_SECRET_KEY", "sandbox-standalone-not-a-secret")
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("SANDBOX_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if h.strip()
]
SITE_URL = os.environ.get("SANDBOX_SITE_URL", f"http://127.0.0.1:{PORT}").rstrip("/")
SITE_NAME = "Stripe sandbox"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "sandbox",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "sandbox.standalone.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The standalone base.html first (no marketplace navigation), then the sandbox's pages.
        "DIRS": [HERE / "templates", BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SANDBOX_DATABASE", str(BASE_DIR / "sandbox-standalone.sqlite3")),
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]

# A local tool whose whole point is to be reached over HTTP: its hosted pages (Checkout, 3-D
# Secure, onboarding), the stand-in Stripe.js and the control page answer (sandbox/access.py).
SANDBOX_HTTP_OPEN = True
# The keys the API accepts (sandbox/access.py): not this server's Django SECRET_KEY.
SANDBOX_PUBLISHABLE_KEY = os.environ.get("SANDBOX_PUBLISHABLE_KEY", "pk_test_sandbox")
SANDBOX_CONTROL_OPEN = True  # a local tool: the control page is for whoever runs it
SANDBOX_WEBHOOK_DELIVERY = os.environ.get("SANDBOX_WEBHOOK_DELIVERY", "thread")
SANDBOX_WEBHOOK_TIMEOUT = int(os.environ.get("SANDBOX_WEBHOOK_TIMEOUT", "5"))
SANDBOX_PAYMENT_METHOD_TYPES = [
    t.strip() for t in os.environ.get("SANDBOX_PAYMENT_METHOD_TYPES", "card").split(",") if t
]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}

"""The one settings module, read from environment variables.

Embedded defaults make a fresh clone run: a SQLite file, no broker (Celery tasks run in-process after
commit), the offline Stripe sandbox, console email. Production sets DATABASE_URL, REDIS_URL,
STRIPE_* and SECRET_KEY. Every variable read here is listed in docs/operations.md.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from marketplace.env import (
    SQLITE_OPTIONS,
    env_bool,
    env_int,
    env_list,
    env_str,
    parse_database_url,
    validate_accept_window,
    validate_checkout_ui,
    validate_publishable_key,
    validate_redis_url,
    validate_stripe_keys,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set; set it (50+ random characters) or run with DEBUG=1."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set; give the site's host names, comma-separated."
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# The marketplace's name: page titles and the subject prefix of account emails.
SITE_NAME = env_str("SITE_NAME", "Marketplace")

INSTALLED_APPS = [
    # The Django admin behind the staff second factor, audited (marketplace/admin_site.py).
    "marketplace.admin_apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_htmx",
    "marketplace",
    "marketplace.events",
    "marketplace.audit",
    "sandbox",
    "sellers",
    "buyers",
    "subscriptions",
    "payouts",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "marketplace.audit.middleware.AuditOriginMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"
ASGI_APPLICATION = "marketplace.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "marketplace.context_processors.site",
            ],
            "builtins": ["marketplace.templatetags.money", "marketplace.templatetags.dates"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": parse_database_url(DATABASE_URL)}
    # Persistent connections (60 s) without a health check: the check costs a `SELECT 1` round
    # trip (its own transaction) before each request's first query, doubling a webhook intake's
    # round trips. A connection broken meanwhile (database restart) fails one request, which
    # Django then closes; Stripe retries a failed webhook. DB_CONN_HEALTH_CHECKS=1 restores it.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("DB_CONN_HEALTH_CHECKS", False)
    # Prepared statements for server-binding cursors, which only webhook intake uses (the ORM's
    # cursors bind on the client and never prepare): its INSERT is parsed and planned once per
    # connection instead of on every delivery. Off (DB_PREPARED_STATEMENTS=0) behind a pooler that
    # cannot keep them (PgBouncer in transaction mode before 1.21, or without
    # max_prepared_statements).
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        0 if env_bool("DB_PREPARED_STATEMENTS", True) else None
    )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": dict(SQLITE_OPTIONS),
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, cache, allauth rate limits ----------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    validate_redis_url(REDIS_URL)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "marketplace"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or None
# Without a broker (the embedded default) tasks run in-process; services enqueue them with
# transaction.on_commit, so they still run after the transaction that asked for them commits.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = "marketplace"
# Periodic jobs (`make beat`). Each app adds its own entries here, in its own block.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # --- events: stragglers, retries with backoff, missed-event recovery ---
    "events-drain": {"task": "events.drain_events", "schedule": 30.0},
    "events-retry-due": {"task": "events.retry_due_events", "schedule": 60.0},
    "events-recover-missed": {"task": "events.recover_missed_events", "schedule": 600.0},
    # --- buyers: expire Checkout Sessions of orders left pending past their deadline ---
    "buyers-expire-checkouts": {"task": "buyers.tasks.expire_stale_orders", "schedule": 300.0},
    # --- buyers: transfers to sellers of several-seller purchases that failed, after backoff ---
    "buyers-retry-transfers": {"task": "buyers.tasks.retry_due_transfers", "schedule": 60.0},
    # --- buyers: cancel orders awaiting a seller past their acceptance deadline (on-site) ---
    "buyers-expire-acceptances": {
        "task": "buyers.tasks.expire_unaccepted_orders",
        "schedule": 300.0,
    },
    # --- sellers: re-read every connected account, a safety net for lost account.updated ---
    "sellers-sync-accounts": {
        "task": "sellers.tasks.sync_all_seller_accounts",
        "schedule": timedelta(hours=6),
    },
    # payouts' balance refresh and daily reconciliation, and the sandbox's clock tick, are added
    # further down, next to their own settings.
}

# --- Stripe event pipeline (marketplace/events) -------------------------------------------------
EVENTS_MAX_ATTEMPTS = env_int("EVENTS_MAX_ATTEMPTS", 8, minimum=1)
# Backoff after the n-th failure: base * 2**(n-1) seconds, capped at 6 hours.
EVENTS_RETRY_BASE_SECONDS = env_int("EVENTS_RETRY_BASE_SECONDS", 60, minimum=1)
# At most one wake-up message to the workers per window while events keep arriving.
EVENTS_WAKE_WINDOW_SECONDS = env_int("EVENTS_WAKE_WINDOW_SECONDS", 2, minimum=1)
# How far back the periodic recovery lists events from Stripe (it runs every 10 minutes).
EVENTS_RECOVER_WINDOW_MINUTES = env_int("EVENTS_RECOVER_WINDOW_MINUTES", 60, minimum=1)

# --- Stripe ---------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
# Several secrets may be valid at once during a rotation: comma-separated.
STRIPE_WEBHOOK_SECRETS = env_list("STRIPE_WEBHOOK_SECRET", [])
STRIPE_CONNECT_WEBHOOK_SECRETS = env_list("STRIPE_CONNECT_WEBHOOK_SECRET", [])
STRIPE_MODE = validate_stripe_keys(
    STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRETS, STRIPE_CONNECT_WEBHOOK_SECRETS
)
STRIPE_SANDBOX = STRIPE_MODE == "sandbox"
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 2, minimum=0)
# Direct charges on the seller's account name the seller on the statement when on_behalf_of is set.
STRIPE_ON_BEHALF_OF = env_bool("STRIPE_ON_BEHALF_OF", False)
# Client-side rate limit (marketplace/stripe_traffic.py): a token bucket shared by every process
# (Redis when REDIS_URL is set). Stripe allows 100 requests/s in live mode and 25 in test mode per
# account; rate + burst stays under that in any one second. 0 turns pacing off (the sandbox's
# default unless SANDBOX_RATE_LIMIT_PER_SECOND makes it enforce a limit).
SANDBOX_RATE_LIMIT_PER_SECOND = env_int("SANDBOX_RATE_LIMIT_PER_SECOND", 0, minimum=0)
_stripe_limit = {"live": 100, "test": 25}.get(STRIPE_MODE, SANDBOX_RATE_LIMIT_PER_SECOND)
_stripe_burst_default = max(_stripe_limit // 10, 1) if _stripe_limit else 1
STRIPE_RATE_LIMIT_BURST = env_int("STRIPE_RATE_LIMIT_BURST", _stripe_burst_default, minimum=1)
STRIPE_RATE_LIMIT_PER_SECOND = env_int(  # live 80 + 10, test 21 + 2: a margin under the limit
    "STRIPE_RATE_LIMIT_PER_SECOND",
    max(_stripe_limit - 2 * _stripe_burst_default, 1) if _stripe_limit else 0,
    minimum=0,
)
# 429s that still arrive: retried this many times after a full-jitter exponential backoff
# (STRIPE_RATE_LIMIT_BACKOFF_BASE seconds, doubling, capped at STRIPE_RATE_LIMIT_BACKOFF_MAX).
STRIPE_RATE_LIMIT_429_RETRIES = env_int("STRIPE_RATE_LIMIT_429_RETRIES", 3, minimum=0)
STRIPE_RATE_LIMIT_BACKOFF_BASE = env_int("STRIPE_RATE_LIMIT_BACKOFF_BASE_MS", 500, minimum=0) / 1000
STRIPE_RATE_LIMIT_BACKOFF_MAX = env_int("STRIPE_RATE_LIMIT_BACKOFF_MAX_MS", 8000, minimum=0) / 1000
# --- On-site payment (buyers/services/onsite.py; docs/operations.md) ---
# Where buyers pay: "hosted" (Stripe's Checkout page) or "elements" (our own page with Stripe.js
# and the Payment Element; saved cards, one-click payment). With a real secret key, "elements"
# needs the publishable key of the same mode (pk_test_ with sk_test_, pk_live_ with sk_live_).
CHECKOUT_UI = validate_checkout_ui(env_str("CHECKOUT_UI", "hosted"))
STRIPE_PUBLISHABLE_KEY = validate_publishable_key(
    env_str("STRIPE_PUBLISHABLE_KEY"), STRIPE_SECRET_KEY, CHECKOUT_UI
)
# How long a seller who accepts each order has to accept it before the card's authorisation is
# released (hours). Stripe holds a card authorisation 7 days, so never more than that.
ORDER_ACCEPT_WINDOW = timedelta(
    hours=validate_accept_window(env_int("ORDER_ACCEPT_WINDOW_HOURS", 72))
)

# --- Stripe sandbox (only used when STRIPE_SECRET_KEY is empty; see docs/sandbox.md) --------
# When webhook events are posted: "thread" (background thread after commit), "inline"
# (synchronously after commit; the tests' default) or "manual" (sandbox.testing.deliver_pending()).
SANDBOX_WEBHOOK_DELIVERY = env_str("SANDBOX_WEBHOOK_DELIVERY", "thread")
if SANDBOX_WEBHOOK_DELIVERY not in {"thread", "inline", "manual"}:
    raise ImproperlyConfigured("SANDBOX_WEBHOOK_DELIVERY must be thread, inline or manual.")
# Seconds before an HTTP webhook delivery to another host times out.
SANDBOX_WEBHOOK_TIMEOUT = env_int("SANDBOX_WEBHOOK_TIMEOUT", 5, minimum=1)
# Cap in milliseconds on the SDK's sleep between retries against the sandbox (-1: the SDK's own).
_sandbox_retry_ms = env_int("SANDBOX_MAX_RETRY_DELAY_MS", -1, minimum=-1)
SANDBOX_MAX_RETRY_DELAY: float | None = None if _sandbox_retry_ms < 0 else _sandbox_retry_ms / 1000
# Whether anything outside this process may reach the sandbox over HTTP: its API at /sandbox/v1/,
# its hosted pages (Checkout, 3-D Secure, receipts, onboarding, Express dashboard) and the control
# page. Off (the default without DEBUG, so in production): every /sandbox/ URL is a 404 and only
# the app's in-process client talks to the sandbox. On (the default with DEBUG: `make demo`; the
# tests; a staging site run on the sandbox whose buyers must see its Checkout page): they answer,
# and the API requires SANDBOX_SECRET_KEY. The one rule lives in sandbox/access.py.
SANDBOX_HTTP_OPEN = env_bool("SANDBOX_HTTP_OPEN", DEBUG)
# The sandbox's API secret key: the in-process client sends it; HTTP callers of /sandbox/v1/ must
# send exactly this key (no other sk_test_ key is accepted). Set your own when SANDBOX_HTTP_OPEN is
# on for a site others can reach (`check --deploy` warns about the default).
SANDBOX_SECRET_KEY = env_str("SANDBOX_SECRET_KEY", "sk_test_sandbox")
if not SANDBOX_SECRET_KEY.startswith("sk_test_"):
    raise ImproperlyConfigured("SANDBOX_SECRET_KEY must start with sk_test_.")
# The sandbox's publishable key, which its stand-in Stripe.js (/sandbox/js/v3/) sends: accepted
# only on the client-side endpoints Stripe opens to publishable keys (retrieve and confirm a
# PaymentIntent or SetupIntent with its client secret, create a PaymentMethod); anything else
# with it is Stripe's 401 for publishable keys.
SANDBOX_PUBLISHABLE_KEY = env_str("SANDBOX_PUBLISHABLE_KEY", "pk_test_sandbox")
if not SANDBOX_PUBLISHABLE_KEY.startswith("pk_test_"):
    raise ImproperlyConfigured("SANDBOX_PUBLISHABLE_KEY must start with pk_test_.")
# Who may use the control page /sandbox/ (clock, faults, disconnect buttons) when the sandbox is
# open to HTTP: anyone when on (the default with DEBUG), staff only when off.
SANDBOX_CONTROL_OPEN = env_bool("SANDBOX_CONTROL_OPEN", DEBUG)
# Off by default: the events pipeline registers our endpoints through the API. On, the sandbox
# registers this site's /stripe/webhook/ and /stripe/webhook/connect/ itself with these secrets,
# which the intake then accepts (for running the sandbox without that registration).
SANDBOX_DEFAULT_ENDPOINTS = env_bool("SANDBOX_DEFAULT_ENDPOINTS", False)
# Payment method types of a Checkout Session that names none (Stripe's Dashboard setting):
# "card" and/or "sepa_debit" (EUR). SEPA debits settle after SANDBOX_ASYNC_PAYMENT_DELAY seconds
# of sandbox time.
SANDBOX_PAYMENT_METHOD_TYPES = env_list("SANDBOX_PAYMENT_METHOD_TYPES", ["card"])
SANDBOX_ASYNC_PAYMENT_DELAY = env_int("SANDBOX_ASYNC_PAYMENT_DELAY", 180, minimum=0)
# Sandbox billing. Stripe's Smart Retries are approximated by a fixed schedule: a failed renewal is
# retried this many days after the previous attempt (one number per retry). After the last retry
# the subscription is canceled, marked unpaid, or left past_due (Stripe's dashboard setting).
_retry_days = env_list("SANDBOX_BILLING_RETRY_DAYS", ["3", "5", "7"])
if not all(d.strip().isdigit() and int(d) > 0 for d in _retry_days):
    raise ImproperlyConfigured(
        "SANDBOX_BILLING_RETRY_DAYS must be positive whole numbers of days, e.g. 3,5,7."
    )
SANDBOX_BILLING_RETRY_DAYS = [int(d) for d in _retry_days]
SANDBOX_BILLING_AFTER_RETRIES = env_str("SANDBOX_BILLING_AFTER_RETRIES", "cancel")
if SANDBOX_BILLING_AFTER_RETRIES not in {"cancel", "unpaid", "past_due"}:
    raise ImproperlyConfigured("SANDBOX_BILLING_AFTER_RETRIES must be cancel, unpaid or past_due.")
# invoice.upcoming is sent this many days before a renewal (0: never).
SANDBOX_BILLING_UPCOMING_DAYS = env_int("SANDBOX_BILLING_UPCOMING_DAYS", 7, minimum=0)
SANDBOX_WEBHOOK_SECRET = env_str("SANDBOX_WEBHOOK_SECRET", "whsec_sandbox_platform_not_a_secret")
SANDBOX_CONNECT_WEBHOOK_SECRET = env_str(
    "SANDBOX_CONNECT_WEBHOOK_SECRET", "whsec_sandbox_connect_not_a_secret"
)
for _name, _secret in (
    ("SANDBOX_WEBHOOK_SECRET", SANDBOX_WEBHOOK_SECRET),
    ("SANDBOX_CONNECT_WEBHOOK_SECRET", SANDBOX_CONNECT_WEBHOOK_SECRET),
):
    if not _secret.startswith("whsec_"):
        raise ImproperlyConfigured(f"{_name} must start with whsec_.")
if STRIPE_SANDBOX and SANDBOX_DEFAULT_ENDPOINTS:
    STRIPE_WEBHOOK_SECRETS = STRIPE_WEBHOOK_SECRETS or [SANDBOX_WEBHOOK_SECRET]
    STRIPE_CONNECT_WEBHOOK_SECRETS = STRIPE_CONNECT_WEBHOOK_SECRETS or [
        SANDBOX_CONNECT_WEBHOOK_SECRET
    ]
if not STRIPE_SANDBOX:
    # A real Stripe key: the sandbox is not installed at all (no models, no tables migrated, no
    # tasks, no URLs; marketplace/urls.py mounts /sandbox/ only in sandbox mode).
    INSTALLED_APPS.remove("sandbox")
if STRIPE_SANDBOX:
    # Due sandbox work (webhook retries, clock jobs) when a worker and beat run.
    CELERY_BEAT_SCHEDULE["sandbox-run-due"] = {"task": "sandbox.run_due", "schedule": 60.0}

# --- Marketplace ------------------------------------------------------------------------------
MARKETPLACE_CURRENCIES = [
    c.lower() for c in env_list("MARKETPLACE_CURRENCIES", ["eur", "usd", "gbp"])
]
MARKETPLACE_DEFAULT_FEE_BPS = env_int("MARKETPLACE_DEFAULT_FEE_BPS", 1000, minimum=0)
MARKETPLACE_DEFAULT_FEE_FIXED = env_int("MARKETPLACE_DEFAULT_FEE_FIXED", 30, minimum=0)
MARKETPLACE_REFUND_WINDOW = timedelta(days=env_int("MARKETPLACE_REFUND_WINDOW_DAYS", 30, minimum=0))
CHECKOUT_EXPIRY = timedelta(minutes=30)
# Subscriptions: a buyer canceling at once gets the unused time credited (Stripe's ``prorate``).
SUBSCRIPTIONS_PRORATE_ON_CANCEL = env_bool("SUBSCRIPTIONS_PRORATE_ON_CANCEL", True)
# How long an order waits for a delayed payment (SEPA Direct Debit: up to 14 days) before the
# stale-order job asks Stripe about it again; the async payment events usually decide first.
ORDER_DELAYED_PAYMENT_WINDOW = timedelta(
    days=env_int("ORDER_DELAYED_PAYMENT_WINDOW_DAYS", 14, minimum=1)
)
# Countries Checkout collects a shipping address for (ISO codes, comma-separated): on by default,
# since what is sold here ships; "none" for a marketplace that ships nothing (digital goods).
_shipping_countries = env_list(
    "CHECKOUT_SHIPPING_COUNTRIES",
    [
        "AT",
        "BE",
        "CH",
        "DE",
        "DK",
        "ES",
        "FI",
        "FR",
        "GB",
        "IE",
        "IT",
        "LU",
        "NL",
        "NO",
        "PL",
        "PT",
        "SE",
        "US",
    ],
)
CHECKOUT_SHIPPING_COUNTRIES = (
    []
    if [c.lower() for c in _shipping_countries] == ["none"]
    else [c.upper() for c in _shipping_countries]
)
# Most units of one listing a buyer may take in one order.
ORDER_MAX_QUANTITY = env_int("ORDER_MAX_QUANTITY", 10, minimum=1)

# --- Accounts (django-allauth) ----------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
if ACCOUNT_EMAIL_VERIFICATION not in {"mandatory", "optional", "none"}:
    raise ImproperlyConfigured("ACCOUNT_EMAIL_VERIFICATION must be mandatory, optional or none.")
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
# allauth prefixes its subjects with the current Site's name by default ("[127.0.0.1:8101]").
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
}
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "account_login"

# --- Staff second factor (allauth.mfa) and the audit log --------------------------------------
# Staff pages and the Django admin need two-factor authentication; a money action (refund, fee
# rule, suspension, replay, reconciliation run, admin edit) also needs the second factor
# checked within STAFF_REAUTHENTICATION_SECONDS, at sign-in or by re-authenticating
# (marketplace/staff.py). The audit log is marketplace/audit.
ACCOUNT_ADAPTER = "marketplace.staff.AccountAdapter"
ACCOUNT_REAUTHENTICATION_TIMEOUT = env_int("STAFF_REAUTHENTICATION_SECONDS", 300, minimum=30)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "Marketplace")
# WebAuthn needs a secure origin; http://127.0.0.1 of `make demo` counts only with DEBUG on.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
# Where the audit log reads the client's address: REMOTE_ADDR, or with N trusted reverse proxies
# in front, the N-th address from the right of X-Forwarded-For (the one our own proxy added).
AUDIT_TRUSTED_PROXIES = env_int("AUDIT_TRUSTED_PROXIES", 0, minimum=0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Email ------------------------------------------------------------------------------------
# Console email while developing (DEBUG=1, `make demo`), SMTP otherwise.
_email_backend = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
_email_options: dict[str, object] = {}
if _email_backend.endswith("smtp.EmailBackend"):
    _email_options = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 25, minimum=1),
        "username": env_str("EMAIL_HOST_USER"),
        "password": env_str("EMAIL_HOST_PASSWORD"),
        "use_tls": env_bool("EMAIL_USE_TLS", False),
        "timeout": 20,
    }
MAILERS = {"default": {"BACKEND": _email_backend, "OPTIONS": _email_options}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Marketplace <noreply@marketplace.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ADMINS = env_list("ADMIN_EMAILS", [])

# --- I18N, static, media ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
# Serve uploads (listing images) from Django itself: fine for a small deployment; turn off when a
# web server or object storage serves MEDIA_ROOT.
SERVE_MEDIA = env_bool("SERVE_MEDIA", True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Compressed, hashed file names: cache forever, safe to serve from whitenoise.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Security ---------------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy, enforced (Django's ContentSecurityPolicyMiddleware). Exactly what the
# pages need: our own CSS, images and htmx (django_htmx serves it from our static files); inline
# <script>/<style> only with the per-response nonce ({{ csp_nonce }}, the csp context processor);
# no inline event handlers, no eval, no plugins, no <base>, never framed. Forms post to us; the
# redirects that follow some of them go to SITE_URL (the sandbox's hosted pages) or, with real
# keys, to Stripe's hosted Checkout and Connect onboarding.
_SITE_ORIGIN = "/".join(SITE_URL.split("/")[:3])
SECURE_CSP: dict[str, list[str]] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "frame-src": [CSP.NONE],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF, _SITE_ORIGIN],
}
if not STRIPE_SANDBOX:
    SECURE_CSP["form-action"] += ["https://checkout.stripe.com", "https://connect.stripe.com"]
    # --- Stripe.js (real mode, on-site payment) ---------------------------------------------
    # Stripe's documented sources for Stripe.js and its frames (Elements, 3-D Secure). Pages
    # that load https://js.stripe.com/v3 need these; nothing else loads third-party code.
    SECURE_CSP["script-src"] += ["https://js.stripe.com", "https://*.js.stripe.com"]
    SECURE_CSP["frame-src"] = [
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "https://hooks.stripe.com",
    ]
    SECURE_CSP["connect-src"] += ["https://api.stripe.com"]
SILENCED_SYSTEM_CHECKS = ["security.W021"] if not SECURE_HSTS_PRELOAD else []

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Payouts: periodic jobs -------------------------------------------------------------------
CELERY_BEAT_SCHEDULE["payouts-refresh-seller-balances"] = {
    "task": "payouts.tasks.refresh_all_seller_balances",
    "schedule": 15 * 60.0,  # seconds
}
# When a dispute is lost, take the seller's share back with a transfer reversal (the platform is
# liable for destination charges; this passes the loss on to the seller who made the sale).
MARKETPLACE_DISPUTE_RECOVER_FROM_SELLER = env_bool("MARKETPLACE_DISPUTE_RECOVER_FROM_SELLER", True)
# Transfer reversals of one seller's refund (several-seller purchases) that failed, after backoff.
CELERY_BEAT_SCHEDULE["payouts-retry-refund-reversals"] = {
    "task": "payouts.tasks.retry_due_refund_reversals",
    "schedule": 60.0,  # seconds
}
# Stripe's processing fees still awaited (payouts/services/stripe_fees.py): most are recorded
# right after the event batch that expected them; this takes the rest.
CELERY_BEAT_SCHEDULE["payouts-record-stripe-fees"] = {
    "task": "payouts.record_stripe_fees",
    "schedule": 180.0,  # seconds
}
CELERY_BEAT_SCHEDULE["payouts-reconcile-daily"] = {
    "task": "payouts.tasks.reconcile_yesterday",
    "schedule": 24 * 3600.0,  # seconds
}

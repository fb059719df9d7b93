"""Connected accounts (``/v1/accounts``), their external (bank) accounts, login links and
account links, and the state changes the hosted onboarding page applies.

Account state machine (Express / controller accounts, as Stripe test mode shows it):
- created: ``details_submitted=false``, charges and payouts disabled, requested capabilities
  ``inactive``, ``requirements.currently_due`` = ``past_due`` = what onboarding asks,
  ``disabled_reason="requirements.past_due"``.
- onboarding submitted (``apply_onboarding``), one of the outcomes:
  ``complete`` (everything enabled, nothing due), ``document_eventually_due`` (enabled,
  ``individual.verification.document`` in ``eventually_due``), ``external_account_due``
  (charges enabled, payouts disabled, ``external_account`` currently due with a deadline),
  ``restricted`` (details submitted but ``past_due`` items: everything disabled,
  ``disabled_reason="requirements.past_due"``).
Every change emits ``account.updated`` as a Connect event (``account`` set) with
``previous_attributes``.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from django.conf import settings
from django.db.models import Q
from stripe.params import (
    AccountCreateParams,
    AccountDeleteParams,
    AccountExternalAccountCreateParams,
    AccountExternalAccountListParams,
    AccountLinkCreateParams,
    AccountListParams,
    AccountLoginLinkCreateParams,
    AccountRetrieveCurrentParams,
    AccountRetrieveParams,
    AccountUpdateParams,
)

from sandbox import clock, store
from sandbox.errors import StripeError, invalid_request
from sandbox.events import emit
from sandbox.ids import new_id, random_token
from sandbox.router import Request, route

JSON = dict[str, Any]

ACCOUNT_LINK_TTL = 300  # seconds on the sandbox clock, as Stripe's "a few minutes"
LOGIN_LINK_TTL = 300
REQUIREMENT_DEADLINE = 14 * 86400

COUNTRY_CURRENCY = {
    "US": "usd",
    "GB": "gbp",
    "CA": "cad",
    "AU": "aud",
    "JP": "jpy",
    "CH": "chf",
    "SE": "sek",
    "NO": "nok",
    "DK": "dkk",
    "PL": "pln",
    "NZ": "nzd",
    "SG": "sgd",
    "HK": "hkd",
    "MX": "mxn",
}
EURO_COUNTRIES = {
    "AT",
    "BE",
    "CY",
    "DE",
    "EE",
    "ES",
    "FI",
    "FR",
    "GR",
    "HR",
    "IE",
    "IT",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "PT",
    "SI",
    "SK",
}

# Stripe's test bank account numbers (US routing 110000000; any IBAN with these endings).
BANK_SUCCESS = "000123456789"
BANK_TEST_NUMBERS: dict[str, str | None] = {
    "000123456789": None,  # payouts succeed
    "000111111116": "no_account",  # payouts fail: no such account
    "000111111113": "account_closed",
    "000222222227": "insufficient_funds",
    "000333333335": "debit_not_authorized",
    "000444444440": "invalid_currency",
}

INDIVIDUAL_REQUIREMENTS = [
    "business_profile.mcc",
    "business_profile.url",
    "business_type",
    "external_account",
    "individual.address.city",
    "individual.address.line1",
    "individual.address.postal_code",
    "individual.dob.day",
    "individual.dob.month",
    "individual.dob.year",
    "individual.email",
    "individual.first_name",
    "individual.last_name",
    "individual.phone",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]


def default_capabilities() -> list[str]:
    """The capabilities requested for an Express account created without any (on Stripe: the
    platform's Connect settings). Setting ``SANDBOX_DEFAULT_CAPABILITIES``."""
    return list(getattr(settings, "SANDBOX_DEFAULT_CAPABILITIES", ("card_payments", "transfers")))


def default_currency(country: str) -> str:
    country = country.upper()
    if country in EURO_COUNTRIES:
        return "eur"
    return COUNTRY_CURRENCY.get(country, "usd")


def _empty_requirements() -> JSON:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": [],
        "disabled_reason": None,
        "errors": [],
        "eventually_due": [],
        "past_due": [],
        "pending_verification": [],
    }


def _initial_requirements() -> JSON:
    requirements = _empty_requirements()
    requirements["currently_due"] = list(INDIVIDUAL_REQUIREMENTS)
    requirements["eventually_due"] = list(INDIVIDUAL_REQUIREMENTS)
    requirements["past_due"] = list(INDIVIDUAL_REQUIREMENTS)
    requirements["disabled_reason"] = "requirements.past_due"
    return requirements


def _controller(p: JSON) -> JSON:
    """The account's ``controller`` from the legacy ``type`` or the controller properties.

    Rules checked in Stripe's API reference (``AccountCreateParams``' docstrings): the dashboard
    defaults to ``full``, fees to ``account``, losses to ``stripe``, requirement collection to
    ``stripe``; ``losses.payments=application`` requires ``fees.payer=application``. Legacy types
    map as Stripe documents: express = Express dashboard, platform pays fees and losses;
    standard = full dashboard; custom = no dashboard, platform collects requirements. Express
    accounts may also leave losses to Stripe with either fee payer (changelog 2026-11-18)."""
    requested = p.get("controller") or {}
    legacy_type = p.get("type")
    if legacy_type not in (None, "", "express", "standard", "custom"):
        raise invalid_request(
            f"Invalid type: must be one of custom, express, or standard ({legacy_type!r} given).",
            param="type",
        )
    explicit = requested
    if legacy_type == "express":
        requested = {
            "stripe_dashboard": {"type": "express"},
            "fees": {"payer": "application"},
            "losses": {"payments": "application"},
        }
    elif legacy_type == "custom":
        requested = {
            "stripe_dashboard": {"type": "none"},
            "fees": {"payer": "application"},
            "losses": {"payments": "application"},
            "requirement_collection": "application",
        }
    elif legacy_type == "standard":
        requested = {"stripe_dashboard": {"type": "full"}}
    if legacy_type:
        requested = {**requested, **{k: v for k, v in explicit.items() if v}}
    dashboard = (requested.get("stripe_dashboard") or {}).get("type") or "full"
    fees = (requested.get("fees") or {}).get("payer") or "account"
    losses = (requested.get("losses") or {}).get("payments") or "stripe"
    collection = requested.get("requirement_collection") or "stripe"
    if losses == "application" and fees != "application":
        raise invalid_request(
            "Setting controller.losses.payments=application requires "
            "controller.fees.payer=application.",
            param="controller[losses][payments]",
        )
    if dashboard == "express" and fees == "application" and losses == "application":
        fees = "application_express"  # what Stripe shows on Express accounts
    elif dashboard == "none" and fees == "application" and collection == "application":
        fees = "application_custom"
    return {
        "fees": {"payer": fees},
        "is_controller": True,
        "losses": {"payments": losses},
        "requirement_collection": collection,
        "stripe_dashboard": {"type": dashboard},
        "type": "application",
    }


def _account_type(controller: JSON) -> str:
    return {"express": "express", "full": "standard", "none": "custom"}[
        controller["stripe_dashboard"]["type"]
    ]


def _settings(country: str, business_name: str | None = None) -> JSON:
    return {
        "bacs_debit_payments": {"display_name": None, "service_user_number": None},
        "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
        "card_issuing": {"tos_acceptance": {"date": None, "ip": None}},
        "card_payments": {
            "decline_on": {"avs_failure": False, "cvc_failure": False},
            "statement_descriptor_prefix": None,
            "statement_descriptor_prefix_kana": None,
            "statement_descriptor_prefix_kanji": None,
        },
        "dashboard": {"display_name": business_name, "timezone": "Etc/UTC"},
        "invoices": {"default_account_tax_ids": None, "hosted_payment_method_save": "offer"},
        "payments": {
            "statement_descriptor": None,
            "statement_descriptor_kana": None,
            "statement_descriptor_kanji": None,
        },
        "payouts": {
            "debit_negative_balances": True,
            "schedule": {"delay_days": 2, "interval": "daily"},
            "statement_descriptor": None,
        },
        "sepa_debit_payments": {},
    }


def _business_profile(given: JSON | None = None) -> JSON:
    profile: JSON = {
        "annual_revenue": None,
        "estimated_worker_count": None,
        "mcc": None,
        "name": None,
        "product_description": None,
        "support_address": None,
        "support_email": None,
        "support_phone": None,
        "support_url": None,
        "url": None,
    }
    for key in (
        "mcc",
        "name",
        "product_description",
        "support_email",
        "support_phone",
        "support_url",
        "url",
    ):
        if given and given.get(key):
            profile[key] = given[key]
    return profile


def account_create(params: JSON) -> JSON:
    """Create a connected account from validated ``AccountCreateParams``; emits nothing
    (Stripe sends no event for the platform's own create call). Details given with the call
    (``individual``, ``company``, ``tos_acceptance``, ``external_account``) are prefilled; for
    accounts whose platform collects requirements (Custom) they verify it as in test mode."""
    account_id = new_id("acct", 16)
    data = account_data(params, account_id)
    provided = provided_details(params)
    store.create(
        "acct",
        "account",
        data,
        object_id=account_id,
        private={"provided": sorted(provided)} if provided else {},
    )
    if provided:
        api_onboard(account_id, params, emit_update=False)
    return store.get(account_id, object_type="account", account="")


# --- API onboarding (requirement_collection=application: Custom accounts) --------------------
COMPANY_REQUIREMENTS = [
    "business_profile.mcc",
    "business_profile.url",
    "business_type",
    "company.address.city",
    "company.address.line1",
    "company.address.postal_code",
    "company.name",
    "company.phone",
    "company.tax_id",
    "external_account",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]
API_DETAILS = ("individual", "company", "tos_acceptance", "external_account")


def _flatten(prefix: str, value: Any) -> set[str]:
    if isinstance(value, dict):
        out: set[str] = set()
        for key, inner in value.items():
            out |= _flatten(f"{prefix}.{key}", inner)
        return out
    return {prefix} if value not in (None, "") else set()


def provided_details(params: JSON) -> set[str]:
    """The requirement names (``individual.dob.day`` ...) the parameters fill."""
    provided: set[str] = set()
    for key in ("individual", "company", "tos_acceptance", "business_profile"):
        if isinstance(params.get(key), dict):
            provided |= _flatten(key, params[key])
    if params.get("business_type"):
        provided.add("business_type")
    if params.get("external_account"):
        provided.add("external_account")
    return provided


def _requirements_due(data: JSON, provided: set[str]) -> list[str]:
    needed = (
        COMPANY_REQUIREMENTS if data.get("business_type") == "company" else INDIVIDUAL_REQUIREMENTS
    )
    have = set(provided)
    if data["external_accounts"]["data"]:
        have.add("external_account")
    if data.get("business_type"):
        have.add("business_type")
    for key in ("mcc", "url"):
        if data["business_profile"].get(key):
            have.add(f"business_profile.{key}")
    if data["tos_acceptance"].get("date"):
        have |= {"tos_acceptance.date", "tos_acceptance.ip"}
    return [name for name in needed if name not in have]


def api_onboard(account_id: str, params: JSON, *, emit_update: bool = True) -> JSON:
    """Apply API-provided details to an account: the bank account, ToS acceptance and, for
    accounts whose platform collects requirements, the requirements left (all given = verified at
    once, as Stripe's test mode does with its test values; charges and payouts enabled)."""
    row = _connected(account_id, for_update=True)
    provided = set(row.private.get("provided") or []) | provided_details(params)
    row.private["provided"] = sorted(provided)
    store.save(row)
    bank: JSON | None = None
    given = params.get("external_account")
    if given:
        if isinstance(given, str):
            given = {"account_number": BANK_SUCCESS if given.startswith("btok_") else given}
        bank = bank_account_create(
            account_id,
            account_number=str(given.get("account_number", "")),
            country=str(given.get("country") or row.data["country"]),
            currency=str(given.get("currency") or row.data["default_currency"]),
            holder=given.get("account_holder_name"),
        )

    def mutate(data: JSON) -> None:
        if bank is not None:
            set_external_account(data, bank)
        tos = params.get("tos_acceptance")
        if isinstance(tos, dict) and tos:
            data["tos_acceptance"] = {
                "date": tos.get("date") or data["tos_acceptance"].get("date"),
                "ip": tos.get("ip") or data["tos_acceptance"].get("ip"),
                "user_agent": tos.get("user_agent") or data["tos_acceptance"].get("user_agent"),
            }
        if data["controller"].get("requirement_collection") != "application":
            return
        due = _requirements_due(data, provided)
        requirements = _empty_requirements()
        if due:
            requirements.update(
                currently_due=list(due),
                eventually_due=list(due),
                past_due=list(due),
                disabled_reason="requirements.past_due",
            )
        else:
            data["details_submitted"] = True
        enabled = not due
        data["requirements"] = requirements
        data["charges_enabled"] = enabled
        data["payouts_enabled"] = enabled and bool(data["external_accounts"]["data"])
        data["capabilities"] = {
            name: "active" if enabled else "inactive" for name in data["capabilities"]
        }

    if not emit_update:
        row = _connected(account_id, for_update=True)
        mutate(row.data)
        return store.save(row)
    return account_update(account_id, mutate)


def account_data(params: JSON, account_id: str) -> JSON:
    """The JSON of a new account (without id/object/created)."""
    country = str(params.get("country") or "US").upper()
    controller = _controller(params)
    capabilities = {
        name: "inactive"
        for name, options in (params.get("capabilities") or {}).items()
        if isinstance(options, dict) and options.get("requested")
    }
    dashboard = controller["stripe_dashboard"]["type"]
    if dashboard == "none" and not capabilities:
        # Stripe: capabilities are "Required when account.controller.stripe_dashboard.type is
        # none, which includes Custom accounts."
        raise invalid_request(
            "You must request at least one capability when creating an account without access "
            "to a Stripe-hosted dashboard (controller.stripe_dashboard.type=none, which "
            "includes Custom accounts), e.g. capabilities[transfers][requested]=true.",
            param="capabilities",
        )
    if dashboard == "express" and not capabilities:
        # Stripe requests the platform's default capabilities (Connect settings).
        capabilities = {name: "inactive" for name in default_capabilities()}
    metadata = params.get("metadata")
    data: JSON = {
        "business_profile": _business_profile(params.get("business_profile")),
        "business_type": params.get("business_type"),
        "capabilities": capabilities,
        "charges_enabled": False,
        "controller": controller,
        "country": country,
        "default_currency": str(params.get("default_currency") or default_currency(country)),
        "details_submitted": False,
        "email": params.get("email"),
        "external_accounts": store.list_of([], url=f"/v1/accounts/{account_id}/external_accounts"),
        "future_requirements": _empty_requirements(),
        "metadata": metadata if isinstance(metadata, dict) else {},
        "payouts_enabled": False,
        "requirements": _initial_requirements(),
        "settings": _settings(country),
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
        "type": _account_type(controller),
    }
    data["external_accounts"]["total_count"] = 0
    return data


def _require_platform(req: Request) -> None:
    if req.account:
        raise StripeError(
            "This API call cannot be made on behalf of a connected account.", status=400
        )


def _connected(account_id: str, *, for_update: bool = False) -> Any:
    return store.get_row(
        account_id,
        object_type="account",
        account="",
        name="account",
        param="account",
        for_update=for_update,
    )


def accessible(account_id: str, *, param: str = "account") -> JSON:
    """The account's JSON for a platform call: 404 if unknown, 403 once it disconnected the
    platform (as Stripe answers after ``account.application.deauthorized``)."""
    row = store.get_row(account_id, object_type="account", account="", name="account", param=param)
    if row.private.get("deauthorized"):
        raise StripeError(
            f"The provided key does not have access to account '{account_id}' (or that account "
            "does not exist). Application access may have been revoked.",
            status=403,
            code="account_invalid",
        )
    return copy.deepcopy(row.data)


def account_update(account_id: str, mutate: Any) -> JSON:
    """Apply ``mutate(data)`` to the account's JSON; if anything changed, save and emit
    ``account.updated`` (Connect event) with ``previous_attributes``. Returns the new JSON."""
    row = _connected(account_id, for_update=True)
    before = copy.deepcopy(row.data)
    mutate(row.data)
    if row.data == before:
        return copy.deepcopy(row.data)
    obj = store.save(row)
    emit("account.updated", obj, account=account_id, previous_attributes=store.diff(before, obj))
    return obj


@route("POST", "/v1/accounts", params=AccountCreateParams, connect=False)
def create(req: Request) -> JSON:
    return account_create(req.params)


@route("GET", "/v1/accounts/{account}", params=AccountRetrieveParams)
def retrieve(req: Request) -> JSON:
    account_id = req.args["account"]
    if req.account and req.account != account_id:
        raise StripeError(
            f"The account '{account_id}' is not the account in the Stripe-Account header.",
            status=403,
        )
    return accessible(account_id)


@route("GET", "/v1/account", params=AccountRetrieveCurrentParams)
def retrieve_current(req: Request) -> JSON:
    if req.account:
        return store.get(req.account, object_type="account", account="")
    return platform_account()


def platform_account() -> JSON:
    """The platform's own account (created on first use)."""
    row = store.queryset("platform_account", account="").first()
    if row is None:
        account_id = "acct_platform" + random_token(11)
        data = account_data({"country": "US", "type": "standard"}, account_id)
        data.update(
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
            requirements=_empty_requirements(),
            controller={"type": "account"},
        )
        data["business_profile"]["name"] = "Sandbox platform"
        store.create("acct", "platform_account", data, object_id=account_id)
        row = store.queryset("platform_account", account="").first()
        assert row is not None
    out: JSON = copy.deepcopy(row.data)
    out["id"] = row.id
    out["object"] = "account"
    return out


@route("POST", "/v1/accounts/{account}", params=AccountUpdateParams, connect=False)
def update(req: Request) -> JSON:
    p = dict(req.params)
    p.pop("expand", None)

    def mutate(data: JSON) -> None:
        if "metadata" in p:
            data["metadata"] = store.merge_metadata(data.get("metadata"), p["metadata"])
        if "email" in p:
            data["email"] = p["email"] or None
        if "default_currency" in p:
            data["default_currency"] = p["default_currency"]
        if "business_profile" in p and isinstance(p["business_profile"], dict):
            for key, value in p["business_profile"].items():
                if key in data["business_profile"] and not isinstance(value, dict):
                    data["business_profile"][key] = value or None
        if "capabilities" in p:
            for name, options in (p["capabilities"] or {}).items():
                if isinstance(options, dict) and options.get("requested"):
                    if name not in data["capabilities"]:
                        data["capabilities"][name] = (
                            "active" if data["charges_enabled"] else "inactive"
                        )
                elif isinstance(options, dict) and options.get("requested") is False:
                    data["capabilities"].pop(name, None)
        schedule = (((p.get("settings") or {}).get("payouts") or {}).get("schedule")) or {}
        if schedule:
            current = data["settings"]["payouts"]["schedule"]
            for key in ("interval", "delay_days", "weekly_anchor", "monthly_anchor"):
                if key in schedule:
                    value = schedule[key]
                    current[key] = 2 if key == "delay_days" and value == "minimum" else value
        if "business_type" in p:
            data["business_type"] = p["business_type"] or None

    account_id = req.args["account"]
    current = accessible(account_id)
    details = [key for key in API_DETAILS if p.get(key)]
    collection = current["controller"].get("requirement_collection")
    if details and collection != "application":
        row = _connected(account_id)
        if row.private.get("link_created") or current["details_submitted"]:
            # Stripe: after an Account Link or Account Session, "this property can only be
            # updated for accounts where controller.requirement_collection is application,
            # which includes Custom accounts".
            raise invalid_request(
                f"This account's {details[0]} can only be updated by the platform when "
                "controller.requirement_collection is application (which includes Custom "
                "accounts); the account holder updates it through Stripe.",
                param=details[0],
            )
    updated = account_update(account_id, mutate)
    if details or (collection == "application" and provided_details(p)):
        return api_onboard(account_id, p)
    return updated


@route("DELETE", "/v1/accounts/{account}", params=AccountDeleteParams, connect=False)
def delete(req: Request) -> JSON:
    return store.mark_deleted(req.args["account"], object_type="account", account="")


@route("GET", "/v1/accounts", params=AccountListParams, connect=False)
def list_(req: Request) -> JSON:
    qs = store.queryset("account", account="").filter(
        Q(private__deauthorized__isnull=True) | Q(private__deauthorized=False)
    )
    return store.list_response(qs, req.params, url="/v1/accounts")


# --- external accounts ----------------------------------------------------------------------
def bank_account_create(
    account_id: str, *, account_number: str, country: str, currency: str, holder: str | None
) -> JSON:
    """Attach a bank account (replacing the default for its currency) and return it.
    ``private["payout_failure_code"]`` records what Stripe's test number makes payouts do."""
    digits = account_number.replace(" ", "")
    last12 = digits[-12:]
    failure = BANK_TEST_NUMBERS.get(last12)
    if last12 not in BANK_TEST_NUMBERS and not digits.isdigit() and not digits[:2].isalpha():
        raise invalid_request("Invalid account number", param="external_account[account_number]")
    bank = store.create(
        "ba",
        "bank_account",
        {
            "account": account_id,
            "account_holder_name": holder,
            "account_holder_type": "individual",
            "account_type": None,
            "available_payout_methods": ["standard", "instant"],
            "bank_name": "STRIPE TEST BANK",
            "country": country,
            "currency": currency,
            "default_for_currency": True,
            "fingerprint": hashlib.sha256(digits.encode()).hexdigest()[:16],
            "last4": digits[-4:],
            "metadata": {},
            "routing_number": "110000000" if country == "US" else None,
            "status": "new",
        },
        account=account_id,
        private={"payout_failure_code": failure, "account_number": digits},
    )
    bank.pop("created", None)
    row = store.get_row(bank["id"])
    row.data.pop("created", None)
    store.save(row)
    emit("account.external_account.created", bank, account=account_id)
    return bank


def payout_failure_code(account_id: str, currency: str | None = None) -> str | None:
    """What a payout to the account's default bank account for ``currency`` does: None =
    succeeds, else Stripe's failure code (``no_account`` for 000111111116 ...). For the
    payouts resource."""
    banks = store.queryset("bank_account", account=account_id).order_by("-created", "-seq")
    for row in banks:
        if currency is None or row.data.get("currency") == currency:
            code = row.private.get("payout_failure_code")
            return str(code) if code else None
    return "no_account"


def set_external_account(data: JSON, bank: JSON) -> None:
    """Make ``bank`` the account's default for its currency in the embedded list."""
    items = [b for b in data["external_accounts"]["data"] if b["currency"] != bank["currency"]]
    items.insert(0, bank)
    data["external_accounts"]["data"] = items
    data["external_accounts"]["total_count"] = len(items)


@route(
    "POST",
    "/v1/accounts/{account}/external_accounts",
    params=AccountExternalAccountCreateParams,
)
def external_account_create(req: Request) -> JSON:
    account_id = req.args["account"]
    account = store.get(account_id, object_type="account", account="", param="account")
    given = req.params["external_account"]
    if isinstance(given, str):
        # a token: btok_us_verified etc. behave as the success number
        number = BANK_SUCCESS if given.startswith("btok_") else given
        given = {
            "account_number": number,
            "country": account["country"],
            "currency": account["default_currency"],
        }
    bank = bank_account_create(
        account_id,
        account_number=str(given.get("account_number", "")),
        country=str(given.get("country") or account["country"]),
        currency=str(given.get("currency") or account["default_currency"]),
        holder=given.get("account_holder_name"),
    )
    account_update(account_id, lambda data: set_external_account(data, bank))
    return bank


@route(
    "GET",
    "/v1/accounts/{account}/external_accounts",
    params=AccountExternalAccountListParams,
)
def external_account_list(req: Request) -> JSON:
    account_id = req.args["account"]
    store.get(account_id, object_type="account", account="", param="account")
    return store.list_response(
        store.queryset("bank_account", account=account_id),
        {k: v for k, v in req.params.items() if k != "object"},
        url=f"/v1/accounts/{account_id}/external_accounts",
    )


# --- login links ---------------------------------------------------------------------------
def site_url(path: str) -> str:
    base = str(getattr(settings, "SITE_URL", "") or "http://127.0.0.1:8000").rstrip("/")
    return f"{base}{path}"


@route(
    "POST",
    "/v1/accounts/{account}/login_links",
    params=AccountLoginLinkCreateParams,
    connect=False,
)
def login_link_create(req: Request) -> JSON:
    account = accessible(req.args["account"])
    if account["controller"]["stripe_dashboard"]["type"] != "express":
        raise invalid_request(
            "Login links can only be created for accounts with access to the Express Dashboard.",
            param="account",
        )
    if not account["details_submitted"]:
        raise invalid_request(
            "Cannot create a login link for an account that has not completed onboarding.",
            param="account",
        )
    token = random_token(32)
    now = clock.now()
    store.create(
        "ll",
        "login_link_token",
        {"account": account["id"], "expires_at": now + LOGIN_LINK_TTL},
        object_id=f"ll_{token}",
        private={"used": False},
    )
    return {
        "object": "login_link",
        "created": now,
        "url": site_url(f"/sandbox/express/{token}/"),
    }


# --- account links -------------------------------------------------------------------------
@route("POST", "/v1/account_links", params=AccountLinkCreateParams, connect=False)
def account_link_create(req: Request) -> JSON:
    p = req.params
    account = accessible(p["account"])
    if p["type"] not in ("account_onboarding", "account_update"):
        raise invalid_request(f"Invalid type: {p['type']}", param="type")
    if p["type"] == "account_update" and not account["details_submitted"]:
        raise invalid_request(
            "You cannot create `account_update` type Account Links for accounts that have not "
            "completed onboarding; use `account_onboarding`.",
            param="type",
        )
    for key in ("refresh_url", "return_url"):
        if not p.get(key):
            raise invalid_request(
                f"Missing required param: {key}.", param=key, code="parameter_missing"
            )
    row = _connected(account["id"], for_update=True)
    if not row.private.get("link_created"):
        row.private["link_created"] = True
        store.save(row)
    token = random_token(32)
    now = clock.now()
    store.create(
        "al",
        "account_link_token",
        {
            "account": account["id"],
            "type": p["type"],
            "refresh_url": p["refresh_url"],
            "return_url": p["return_url"],
            "collect": (p.get("collection_options") or {}).get("fields")
            or p.get("collect")
            or "currently_due",
            "expires_at": now + ACCOUNT_LINK_TTL,
        },
        object_id=f"al_{token}",
        private={"used": False},
    )
    return {
        "object": "account_link",
        "created": now,
        "expires_at": now + ACCOUNT_LINK_TTL,
        "url": site_url(f"/sandbox/onboarding/{token}/"),
    }


# --- onboarding outcomes (applied by the hosted page) --------------------------------------
OUTCOMES = {
    "complete": "Complete: everything verified, charges and payouts enabled",
    "document_eventually_due": "Verified for now; an identity document is eventually due",
    "external_account_due": "No bank account yet: payouts disabled, external_account currently due",
    "restricted": "Restricted: information past due, charges and payouts disabled",
    "pending_verification": "Submitted, verification pending: enabled a minute later (sandbox clock)",
}
VERIFICATION_SECONDS = 60


def apply_onboarding(
    account_id: str,
    *,
    outcome: str,
    business_name: str,
    business_type: str = "individual",
    account_number: str = BANK_SUCCESS,
    email: str | None = None,
) -> JSON:
    """What submitting the hosted onboarding form does to the account (one ``account.updated``)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown onboarding outcome {outcome!r}")
    account = store.get(account_id, object_type="account", account="")
    bank: JSON | None = None
    if outcome != "external_account_due" and account_number:
        bank = bank_account_create(
            account_id,
            account_number=account_number,
            country=account["country"],
            currency=account["default_currency"],
            holder=business_name,
        )
    now = clock.now()

    def mutate(data: JSON) -> None:
        data["details_submitted"] = True
        data["business_type"] = business_type
        data["business_profile"]["name"] = business_name
        data["business_profile"]["url"] = data["business_profile"]["url"] or "https://example.com"
        data["business_profile"]["mcc"] = data["business_profile"]["mcc"] or "5734"
        data["settings"]["dashboard"]["display_name"] = business_name
        if email:
            data["email"] = email
        data["tos_acceptance"] = {"date": now, "ip": "127.0.0.1", "user_agent": "sandbox"}
        if bank is not None:
            set_external_account(data, bank)
        requirements = _empty_requirements()
        enabled = True
        payouts = True
        if outcome == "document_eventually_due":
            requirements["eventually_due"] = ["individual.verification.document"]
        elif outcome == "external_account_due":
            requirements["currently_due"] = ["external_account"]
            requirements["eventually_due"] = ["external_account"]
            requirements["current_deadline"] = now + REQUIREMENT_DEADLINE
            payouts = bool(data["external_accounts"]["data"])
        elif outcome == "pending_verification":
            requirements["pending_verification"] = ["individual.verification.document"]
            requirements["disabled_reason"] = "requirements.pending_verification"
            enabled = payouts = False
        elif outcome == "restricted":
            due = ["individual.id_number", "individual.verification.document"]
            requirements["currently_due"] = list(due)
            requirements["eventually_due"] = list(due)
            requirements["past_due"] = list(due)
            requirements["disabled_reason"] = "requirements.past_due"
            enabled = payouts = False
        data["requirements"] = requirements
        data["charges_enabled"] = enabled
        data["payouts_enabled"] = payouts
        status = "active" if enabled else "inactive"
        if outcome == "pending_verification":
            status = "pending"
        data["capabilities"] = {name: status for name in data["capabilities"]}

    updated = account_update(account_id, mutate)
    if outcome == "pending_verification":
        row = _connected(account_id, for_update=True)
        row.private["verify_at"] = now + VERIFICATION_SECONDS
        store.save(row)
    return updated


def finish_verifications() -> None:
    """Clock job: accounts whose verification was pending become verified and enabled."""
    now = clock.now()
    due = store.queryset("account", account="").filter(private__verify_at__lte=now)
    for row in due:
        account_id = row.id
        locked = _connected(account_id, for_update=True)
        locked.private.pop("verify_at", None)
        store.save(locked)

        def mutate(data: JSON) -> None:
            data["requirements"] = _empty_requirements()
            data["charges_enabled"] = True
            data["payouts_enabled"] = bool(data["external_accounts"]["data"])
            if not data["payouts_enabled"]:
                data["requirements"]["currently_due"] = ["external_account"]
                data["requirements"]["eventually_due"] = ["external_account"]
                data["requirements"]["current_deadline"] = now + REQUIREMENT_DEADLINE
            data["capabilities"] = {name: "active" for name in data["capabilities"]}

        account_update(account_id, mutate)


def deauthorize(account_id: str) -> JSON:
    """The connected account disconnects the platform: ``account.application.deauthorized``
    (Connect event); later calls with its Stripe-Account header get a 403."""
    row = _connected(account_id, for_update=True)
    row.private["deauthorized"] = True
    store.save(row)
    application = {
        "id": "ca_" + hashlib.sha256(b"sandbox").hexdigest()[:24],
        "object": "application",
        "name": "Sandbox marketplace",
    }
    return emit("account.application.deauthorized", application, account=account_id)


def expire_links() -> None:
    """Clock job: mark account and login links whose time ran out (kept for the page's message)."""
    now = clock.now()
    for object_type in ("account_link_token", "login_link_token"):
        for row in store.queryset(object_type, account="").filter(data__expires_at__lte=now):
            if not row.private.get("expired"):
                row.private["expired"] = True
                store.save(row)


clock.register_job(expire_links, name="sandbox.accounts.expire_links")
clock.register_job(finish_verifications, name="sandbox.accounts.finish_verifications")

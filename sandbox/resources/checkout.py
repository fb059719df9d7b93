"""Checkout Sessions in payment mode (``/v1/checkout/sessions``: create, retrieve, list,
expire, line items) and the hosted checkout page's services (``pay``, ``authenticate``).

A session is ``open`` until paid (``complete``, ``payment_status`` ``paid``) or expired
(``expire`` or ``expires_at`` passing on the sandbox clock: ``checkout.session.expired``).
As on Stripe (API versions since 2022-08-01) the PaymentIntent is created when the buyer
first submits a card; a declined card leaves the session open for another try.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from stripe.params.checkout import (
    SessionCreateParams,
    SessionExpireParams,
    SessionListLineItemsParams,
    SessionListParams,
    SessionRetrieveParams,
)

from sandbox import cards, clock, sepa, store
from sandbox.errors import StripeError, invalid_request
from sandbox.events import emit
from sandbox.ids import new_id, random_token
from sandbox.resources import payments
from sandbox.resources.accounts import site_url
from sandbox.resources.products import price_create
from sandbox.router import Request, route

JSON = dict[str, Any]


class CheckoutSessionCreateParams(SessionCreateParams, total=False):
    """The SDK's create params plus ``payment_method_types``, the explicit list Stripe has
    long accepted (the SDK 16.1 types only its newer filter ``allowed_payment_method_types``;
    the sandbox takes either)."""

    payment_method_types: list[str]


# The inherited annotations are forward references into the SDK's module: resolve them there.
CheckoutSessionCreateParams.__module__ = SessionCreateParams.__module__


MIN_EXPIRY = 30 * 60
MAX_EXPIRY = 24 * 3600


def _event_account(account: str) -> str | None:
    return account or None


def _line_items(p: JSON, account: str, mode: str = "payment") -> list[JSON]:
    given = p.get("line_items")
    if not given:
        raise invalid_request(
            "You must specify either `line_items` or `subscription_data` when creating a "
            "Checkout Session in `payment` mode.",
            param="line_items",
            code="parameter_missing",
        )
    items: list[JSON] = []
    for index, item in enumerate(given):
        param = f"line_items[{index}]"
        if item.get("price"):
            price = store.get(
                str(item["price"]), object_type="price", account=account, param=f"{param}[price]"
            )
            if not price.get("active", True):
                raise invalid_request(
                    "The price specified is inactive. This field only accepts active prices.",
                    param=f"{param}[price]",
                )
        elif isinstance(item.get("price_data"), dict):
            data = dict(item["price_data"])
            if not data.get("product") and not isinstance(data.get("product_data"), dict):
                raise invalid_request(
                    f"Missing required param: {param}[price_data][product_data].",
                    param=f"{param}[price_data][product_data]",
                    code="parameter_missing",
                )
            price = price_create({**data, "active": False}, account=account)
        else:
            raise invalid_request(
                f"Missing required param: {param}[price].",
                param=f"{param}[price]",
                code="parameter_missing",
            )
        if mode == "subscription" and not price.get("recurring"):
            raise invalid_request(
                "The sandbox's `subscription` mode needs recurring prices in every line item.",
                param=f"{param}[price]",
            )
        if mode == "payment" and price.get("recurring"):
            raise invalid_request(
                "You specified `payment` mode but passed a recurring price. Either switch to "
                "`subscription` mode or use only one-time prices.",
                param=f"{param}[price]",
            )
        metered = (price.get("recurring") or {}).get("usage_type") == "metered"
        quantity = item.get("quantity")
        if metered and quantity is not None:
            raise invalid_request(
                "Quantity should not be specified where usage_type is `metered`. Remove quantity "
                f"from {param}.",
                param=f"{param}[quantity]",
            )
        if quantity is None and not metered:
            raise invalid_request(
                f"Missing required param: {param}[quantity].",
                param=f"{param}[quantity]",
                code="parameter_missing",
            )
        if not metered and int(quantity) < 1:
            raise invalid_request(
                f"Invalid {param}[quantity]: must be at least 1", param=f"{param}[quantity]"
            )
        quantity = None if metered else int(quantity)
        product = store.get(price["product"], object_type="product", account=account)
        # a metered price is billed in arrears: nothing for it on the first invoice
        amount = 0 if metered else int(price["unit_amount"]) * int(quantity or 0)
        items.append(
            {
                "id": new_id("li"),
                "object": "item",
                "amount_discount": 0,
                "amount_subtotal": amount,
                "amount_tax": 0,
                "amount_total": amount,
                "currency": price["currency"],
                "description": product["name"],
                "metadata": dict(item.get("metadata") or {}),
                "price": price,
                "quantity": quantity,
            }
        )
    intervals = {
        (item["price"]["recurring"]["interval"], item["price"]["recurring"]["interval_count"])
        for item in items
        if item["price"].get("recurring")
    }
    if len(intervals) > 1:
        raise invalid_request(
            "All recurring line items must have the same billing interval.", param="line_items"
        )
    currencies = {item["currency"] for item in items}
    if len(currencies) > 1:
        raise invalid_request("All line items must use the same currency.", param="line_items")
    return items


def session_create(p: JSON, *, account: str = "") -> JSON:
    mode = p.get("mode")
    if mode not in ("payment", "subscription"):
        if mode is None:
            raise invalid_request(
                "Missing required param: mode.", param="mode", code="parameter_missing"
            )
        raise invalid_request(
            f"The sandbox supports Checkout in `payment` and `subscription` mode (got `{mode}`).",
            param="mode",
        )
    ui_mode = p.get("ui_mode") or "hosted_page"
    if ui_mode != "hosted_page":
        raise invalid_request(
            f"The Stripe sandbox emulates Checkout's hosted page only (ui_mode=hosted_page), "
            f"not ui_mode={ui_mode}.",
            param="ui_mode",
        )
    if not p.get("success_url"):
        raise invalid_request(
            "Missing required param: success_url.", param="success_url", code="parameter_missing"
        )
    now = clock.now()
    expires_at = int(p.get("expires_at") or now + MAX_EXPIRY)
    if not now + MIN_EXPIRY <= expires_at <= now + MAX_EXPIRY:
        raise invalid_request(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout "
            "Session creation.",
            param="expires_at",
        )
    items = _line_items(p, account, mode)
    shipping_collection = _shipping_address_collection(p)
    currency = items[0]["currency"]
    method_types = _payment_method_types(p, mode=mode, currency=currency)
    total = sum(item["amount_total"] for item in items)
    pid = dict(p.get("payment_intent_data") or {})
    subscription_data = dict(p.get("subscription_data") or {})
    if mode == "subscription":
        if pid:
            raise invalid_request(
                "You can not pass `payment_intent_data` in `subscription` mode.",
                param="payment_intent_data",
            )
        _check_subscription_data(subscription_data, account)
    # Validate the PaymentIntent the session will create now, as Stripe does.
    transfer = pid.get("transfer_data") if isinstance(pid.get("transfer_data"), dict) else None
    destination = None
    if transfer and transfer.get("destination"):
        destination = payments.check_destination(
            transfer["destination"], param="payment_intent_data[transfer_data][destination]"
        )
    if pid.get("application_fee_amount") is not None:
        try:
            payments.check_application_fee(
                pid["application_fee_amount"], total, account=account, destination=destination
            )
        except StripeError as exc:
            exc.param = "payment_intent_data[application_fee_amount]"
            raise
    if pid.get("on_behalf_of"):
        payments.check_destination(pid["on_behalf_of"], param="payment_intent_data[on_behalf_of]")
    payments.check_amount(total, currency, param="line_items")
    if p.get("customer"):
        store.get(str(p["customer"]), object_type="customer", account=account, param="customer")
    session_id = new_id("cs_test", 58)
    metadata = p.get("metadata")
    session = store.create(
        "cs_test",
        "checkout.session",
        {
            "adaptive_pricing": {"enabled": False},
            "after_expiration": None,
            "allow_promotion_codes": None,
            "amount_subtotal": total,
            "amount_total": total,
            "automatic_tax": {
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "billing_address_collection": None,
            "cancel_url": p.get("cancel_url"),
            "client_reference_id": p.get("client_reference_id"),
            "client_secret": None,
            "collected_information": None,
            "consent": None,
            "consent_collection": None,
            "currency": currency,
            "custom_fields": [],
            "custom_text": {
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            "customer": p.get("customer"),
            "customer_creation": p.get("customer_creation")
            or ("if_required" if not p.get("customer") else None),
            "customer_details": None,
            "customer_email": p.get("customer_email"),
            "discounts": [],
            "expires_at": expires_at,
            "invoice": None,
            "invoice_creation": None,
            "livemode": False,
            "locale": p.get("locale"),
            "metadata": metadata if isinstance(metadata, dict) else {},
            "mode": mode,
            "payment_intent": None,
            "payment_link": None,
            "payment_method_collection": "if_required",
            "payment_method_configuration_details": None,
            "payment_method_options": {},
            "payment_method_types": method_types,
            "payment_status": "unpaid",
            "phone_number_collection": {"enabled": False},
            "recovered_from": None,
            "saved_payment_method_options": None,
            "setup_intent": None,
            "shipping_address_collection": shipping_collection,
            "shipping_cost": None,
            "shipping_options": [],
            "status": "open",
            "submit_type": p.get("submit_type"),
            "subscription": None,
            "success_url": p.get("success_url"),
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted_page",
            "url": site_url(f"/sandbox/checkout/{session_id}/"),
        },
        account=account,
        object_id=session_id,
        private={
            "line_items": items,
            "payment_intent_data": pid,
            "subscription_data": subscription_data,
            "token": random_token(16),
        },
    )
    return session


def _shipping_address_collection(p: JSON) -> JSON | None:
    """``shipping_address_collection[allowed_countries]``: the hosted page asks for a shipping
    address in one of these countries (two-letter codes) and the completed session carries it in
    ``collected_information.shipping_details``."""
    given = p.get("shipping_address_collection")
    if not given:
        return None
    countries = given.get("allowed_countries") if isinstance(given, dict) else None
    if not countries:
        raise invalid_request(
            "Missing required param: shipping_address_collection[allowed_countries].",
            param="shipping_address_collection[allowed_countries]",
            code="parameter_missing",
        )
    allowed: list[str] = []
    for index, country in enumerate(countries):
        code = str(country)
        if len(code) != 2 or not code.isalpha() or not code.isupper():
            raise invalid_request(
                f"Invalid shipping_address_collection[allowed_countries][{index}]: must be a "
                "two-letter country code such as `FR`.",
                param=f"shipping_address_collection[allowed_countries][{index}]",
            )
        if code not in allowed:
            allowed.append(code)
    return {"allowed_countries": allowed}


def _payment_method_types(p: JSON, *, mode: str, currency: str) -> list[str]:
    """The session's payment method types: ``payment_method_types`` or
    ``allowed_payment_method_types`` when given (each supported by the sandbox and by the
    currency, else Stripe's 400), otherwise the account's dynamic default: the setting
    ``SANDBOX_PAYMENT_METHOD_TYPES`` (default ``["card"]``, standing in for the Dashboard's
    payment method settings) filtered by what the currency accepts."""
    for param in ("payment_method_types", "allowed_payment_method_types"):
        given = p.get(param)
        if not given:
            continue
        types: list[str] = []
        for index, kind in enumerate(given):
            kind = str(kind)
            if kind not in sepa.SUPPORTED_TYPES:
                raise invalid_request(
                    f"The payment method type `{kind}` is not supported by the sandbox "
                    f"(supported: {', '.join(sepa.SUPPORTED_TYPES)}).",
                    param=f"{param}[{index}]",
                )
            currencies = sepa.SUPPORTED_TYPES[kind]
            if currencies is not None and currency not in currencies:
                raise invalid_request(
                    f"The currency provided ({currency}) is invalid for one or more payment "
                    f"method types on this Checkout Session: `{kind}` supports "
                    f"{', '.join(sorted(currencies))}.",
                    param=param,
                )
            if kind != "card" and mode != "payment":
                raise invalid_request(
                    f"The sandbox supports `{kind}` in `payment` mode only.", param=param
                )
            if kind not in types:
                types.append(kind)
        return types
    default = [str(k) for k in getattr(settings, "SANDBOX_PAYMENT_METHOD_TYPES", ["card"])]
    types = [
        kind
        for kind in default
        if kind in sepa.SUPPORTED_TYPES
        and (sepa.SUPPORTED_TYPES[kind] is None or currency in (sepa.SUPPORTED_TYPES[kind] or ()))
        and (kind == "card" or mode == "payment")
    ]
    return types or ["card"]


def _check_subscription_data(data: JSON, account: str) -> None:
    days = data.get("trial_period_days")
    if days not in (None, "") and not 1 <= int(days) <= 730:
        raise invalid_request(
            "Invalid subscription_data[trial_period_days]: must be between 1 and 730.",
            param="subscription_data[trial_period_days]",
        )
    transfer = data.get("transfer_data") if isinstance(data.get("transfer_data"), dict) else None
    if transfer and transfer.get("destination"):
        payments.check_destination(
            transfer["destination"], param="subscription_data[transfer_data][destination]"
        )
    percent = data.get("application_fee_percent")
    if percent is not None:
        if not 0 <= Decimal(str(percent)) <= 100:
            raise invalid_request(
                "application_fee_percent must be between 0 and 100.",
                param="subscription_data[application_fee_percent]",
            )
        if not account and not (transfer and transfer.get("destination")):
            raise invalid_request(
                "Can only apply an application_fee_percent with a Stripe-Account header or "
                "subscription_data[transfer_data][destination].",
                param="subscription_data[application_fee_percent]",
            )


def payment_succeeded(session_id: str, pi: JSON) -> None:
    """The session's PaymentIntent succeeded (or is authorized, for manual capture):
    ``complete`` and ``checkout.session.completed``."""
    row = store.get_row(session_id, object_type="checkout.session", for_update=True)
    session = row.data
    if session["status"] == "complete":
        if session["payment_status"] == "unpaid" and pi["status"] == "succeeded":
            # A delayed payment method's debit went through.
            session["payment_status"] = "paid"
            saved = store.save(row)
            emit(
                "checkout.session.async_payment_succeeded",
                saved,
                account=_event_account(row.account),
            )
        return
    if session["status"] != "open":
        return
    email = row.private.get("email") or session.get("customer_email")
    shipping = row.private.get("shipping")
    if shipping and session.get("shipping_address_collection"):
        session["collected_information"] = {
            "business_name": None,
            "individual_name": None,
            "shipping_details": shipping,
        }
    if session["mode"] == "subscription":
        session["subscription"] = row.private.get("subscription")
        session["invoice"] = row.private.get("invoice")
        session["customer"] = row.private.get("customer") or session.get("customer")
    session.update(
        status="complete",
        payment_status="paid" if pi["status"] == "succeeded" else "unpaid",
        url=None,
        customer_details={
            "address": None,
            "email": email,
            "name": row.private.get("name"),
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
    )
    saved = store.save(row)
    emit("checkout.session.completed", saved, account=_event_account(row.account))


def async_payment_failed(session_id: str) -> None:
    """The delayed debit of a completed, unpaid session failed: the session stays ``complete``
    and ``unpaid``; ``checkout.session.async_payment_failed``."""
    row = store.get_row(session_id, object_type="checkout.session", for_update=True)
    session = row.data
    if session["status"] != "complete" or session["payment_status"] != "unpaid":
        return
    emit(
        "checkout.session.async_payment_failed",
        dict(session),
        account=_event_account(row.account),
    )


def session_expire(session_id: str, *, account: str | None) -> JSON:
    row = store.get_row(
        session_id,
        object_type="checkout.session",
        account=account,
        for_update=True,
        name="checkout.session",
        param="session",
    )
    session = row.data
    if session["status"] != "open":
        raise invalid_request(
            f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
            f'Session has a status of "{session["status"]}".',
            param="session",
        )
    session.update(status="expired", url=None)
    if session.get("payment_intent"):
        pi_row = payments.intent_row(session["payment_intent"], account=row.account)
        if pi_row.data["status"] in payments.PI_ACTIVE:
            payments.intent_cancel(pi_row, reason="abandoned")
    saved = store.save(row)
    emit("checkout.session.expired", saved, account=_event_account(row.account))
    return saved


def expire_due() -> None:
    """Clock job: open sessions whose ``expires_at`` has passed expire."""
    now = clock.now()
    for row in store.queryset("checkout.session", account=None).filter(
        data__status="open", data__expires_at__lte=now
    ):
        session_expire(row.id, account=row.account)


clock.register_job(expire_due, name="sandbox.checkout.expire_due")


def session_for_page(session_id: str) -> tuple[JSON, list[JSON]]:
    """The session and its line items for the hosted page (expiring it if its time is up)."""
    row = store.get_row(session_id, object_type="checkout.session")
    if row.data["status"] == "open" and int(row.data["expires_at"]) <= clock.now():
        return session_expire(session_id, account=row.account), list(row.private["line_items"])
    return row.data, list(row.private["line_items"])


def pay(
    session_id: str,
    *,
    number: str = "",
    email: str,
    name: str = "",
    iban: str = "",
    shipping: JSON | None = None,
) -> tuple[JSON, JSON | None, StripeError | None]:
    """The buyer submits a card (``number``) or, where the session allows ``sepa_debit``, an
    IBAN (``iban``, with the account holder's ``name``; accepting the mandate) on the hosted
    page, with ``shipping`` ({name, address}) when the session collects a shipping address:
    create (first time) and confirm the session's PaymentIntent. Returns
    ``(session, payment_intent, error)``; on a decline the session stays open. With an IBAN
    the session completes ``unpaid`` and the intent is ``processing`` until the clock job
    settles the debit."""
    row = store.get_row(session_id, object_type="checkout.session", for_update=True)
    session = row.data
    if session["status"] == "open" and int(session["expires_at"]) <= clock.now():
        session = session_expire(session_id, account=row.account)
    if session["status"] != "open":
        raise invalid_request(f"This Checkout Session is {session['status']}.")
    collection = session.get("shipping_address_collection")
    if collection:
        address = (shipping or {}).get("address") or {}
        if not (shipping or {}).get("name") or not all(
            address.get(k) for k in ("line1", "postal_code", "city", "country")
        ):
            raise invalid_request("Enter the shipping address.")
        if address["country"] not in collection["allowed_countries"]:
            raise invalid_request("The seller does not ship to this country.")
        row.private["shipping"] = shipping
    account = row.account
    row.private["email"] = email
    row.private["name"] = name or None
    kind = "sepa_debit" if iban else "card"
    if kind not in session["payment_method_types"]:
        raise invalid_request(
            f"This Checkout Session does not accept `{kind}` payments.",
            param="payment_method_types",
        )
    if iban:
        pm = sepa.payment_method_create(iban=iban, name=name, email=email, account=account)
    else:
        pm = cards.payment_method_create(number=number, account=account)
        store.update(
            pm["id"],
            {"billing_details": {**pm["billing_details"], "email": email, "name": name or None}},
            object_type="payment_method",
        )
    if session["mode"] == "subscription":
        return _pay_subscription(row, pm, email)
    pi_id = session.get("payment_intent")
    if not pi_id:
        pid = dict(row.private.get("payment_intent_data") or {})
        fields: JSON = {
            "amount": session["amount_total"],
            "currency": session["currency"],
            "capture_method": pid.get("capture_method") or "automatic",
            "application_fee_amount": pid.get("application_fee_amount"),
            "transfer_data": pid.get("transfer_data"),
            "on_behalf_of": pid.get("on_behalf_of"),
            "metadata": pid.get("metadata") or {},
            "description": pid.get("description"),
            "receipt_email": pid.get("receipt_email"),
            "transfer_group": pid.get("transfer_group"),
            "statement_descriptor": pid.get("statement_descriptor"),
            "customer": session.get("customer"),
            "payment_method_types": list(session["payment_method_types"]),
        }
        pi = payments.intent_create(fields, account=account, checkout_session=session_id)
        pi_id = pi["id"]
        session["payment_intent"] = pi_id
    store.save(row)
    pi_row = payments.intent_row(pi_id, account=account)
    pi_row.private["email"] = email
    store.save(pi_row)
    pi, error = payments.intent_confirm(pi_id, account=account, payment_method=pm["id"])
    return store.get(session_id), pi, error


def _pay_subscription(
    row: Any, pm: JSON, email: str
) -> tuple[JSON, JSON | None, StripeError | None]:
    """Subscription mode: a customer, the card attached, an incomplete subscription and its
    first invoice, paid with the card (retried with another card after a decline)."""
    from sandbox.resources import subscriptions

    session = row.data
    account = row.account
    customer = row.private.get("customer") or session.get("customer")
    if not customer:
        customer = subscriptions.customer_for_checkout(email, account)
        row.private["customer"] = customer
    subscriptions.attach_card(pm["id"], customer)
    sub_id = row.private.get("subscription")
    if not sub_id:
        sub = subscriptions.subscription_create(
            customer=customer,
            line_items=list(row.private["line_items"]),
            payment_method=pm["id"],
            subscription_data=dict(row.private.get("subscription_data") or {}),
            account=account,
        )
        sub_id = sub["id"]
        row.private["subscription"] = sub_id
        row.private["invoice"] = sub["latest_invoice"]
    else:
        store.update(sub_id, {"default_payment_method": pm["id"]}, object_type="subscription")
    store.save(row)
    invoice_row = store.get_row(row.private["invoice"], object_type="invoice")
    if not invoice_row.private.get("payment_intent"):
        # Nothing due now (a trial): the card is saved on the subscription, no payment.
        payment_succeeded(row.id, {"status": "succeeded"})
        completed = store.get_row(row.id, object_type="checkout.session", for_update=True)
        completed.data["payment_status"] = "no_payment_required"
        return store.save(completed), None, None
    pi_row = payments.intent_row(invoice_row.private["payment_intent"], account=account)
    pi_row.private["checkout_session"] = row.id
    pi_row.private["email"] = email
    store.save(pi_row)
    _, error = subscriptions.invoice_pay(invoice_row.id, payment_method=pm["id"])
    pi = store.get(pi_row.id)
    return store.get(row.id), pi, error


def success_redirect(session: JSON) -> str:
    return str(session.get("success_url") or "/").replace("{CHECKOUT_SESSION_ID}", session["id"])


# --- routes ------------------------------------------------------------------------------------
def _with_line_items(session: JSON, req: Request) -> JSON:
    if "line_items" in req.expand:
        row = store.get_row(session["id"], object_type="checkout.session")
        session["line_items"] = store.list_of(
            list(row.private["line_items"]), url=f"/v1/checkout/sessions/{session['id']}/line_items"
        )
    return session


@route("POST", "/v1/checkout/sessions", params=CheckoutSessionCreateParams)
def create(req: Request) -> JSON:
    return _with_line_items(session_create(req.params, account=req.account), req)


@route("GET", "/v1/checkout/sessions/{session}", params=SessionRetrieveParams)
def retrieve(req: Request) -> JSON:
    row = store.get_row(
        req.args["session"],
        object_type="checkout.session",
        account=req.account,
        name="checkout.session",
        param="session",
    )
    if row.data["status"] == "open" and int(row.data["expires_at"]) <= clock.now():
        return _with_line_items(session_expire(row.id, account=row.account), req)
    return _with_line_items(dict(row.data), req)


@route("POST", "/v1/checkout/sessions/{session}/expire", params=SessionExpireParams)
def expire(req: Request) -> JSON:
    return session_expire(req.args["session"], account=req.account)


@route("GET", "/v1/checkout/sessions/{session}/line_items", params=SessionListLineItemsParams)
def line_items(req: Request) -> JSON:
    row = store.get_row(
        req.args["session"],
        object_type="checkout.session",
        account=req.account,
        name="checkout.session",
        param="session",
    )
    items = list(row.private["line_items"])
    limit = int(req.params.get("limit") or 10)
    start = 0
    if req.params.get("starting_after"):
        ids = [item["id"] for item in items]
        if req.params["starting_after"] in ids:
            start = ids.index(req.params["starting_after"]) + 1
    page = items[start : start + limit]
    return store.list_of(
        page,
        url=f"/v1/checkout/sessions/{row.id}/line_items",
        has_more=start + limit < len(items),
    )


@route("GET", "/v1/checkout/sessions", params=SessionListParams)
def list_(req: Request) -> JSON:
    qs = store.queryset("checkout.session", account=req.account)
    for key in ("payment_intent", "status", "customer"):
        if req.params.get(key):
            qs = qs.filter(**{f"data__{key}": req.params[key]})
    return store.list_response(qs, req.params, url="/v1/checkout/sessions")

"""Customers (``/v1/customers``) and card PaymentMethods (``/v1/payment_methods``: create,
retrieve, update, attach, detach, list; ``/v1/customers/{customer}/payment_methods``).

Test cards: ``sandbox.cards`` (``pm_card_visa`` tokens work wherever a PaymentMethod id does).
"""

from __future__ import annotations

from typing import Any

from stripe.params import (
    CustomerCreateParams,
    CustomerListParams,
    CustomerPaymentMethodListParams,
    CustomerRetrieveParams,
    CustomerUpdateParams,
    PaymentMethodAttachParams,
    PaymentMethodCreateParams,
    PaymentMethodDetachParams,
    PaymentMethodListParams,
    PaymentMethodRetrieveParams,
    PaymentMethodUpdateParams,
)

from sandbox import cards, sepa, store
from sandbox.errors import invalid_request
from sandbox.events import emit
from sandbox.router import Request, route

JSON = dict[str, Any]


def _event_account(req: Request) -> str | None:
    return req.account or None


def _address(given: Any) -> JSON | None:
    if not isinstance(given, dict):
        return None
    return {
        key: given.get(key) for key in ("city", "country", "line1", "line2", "postal_code", "state")
    }


def _invoice_settings(given: Any, current: JSON | None = None) -> JSON:
    settings = dict(
        current
        or {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        }
    )
    if isinstance(given, dict) and "default_payment_method" in given:
        settings["default_payment_method"] = given["default_payment_method"] or None
    return settings


@route("POST", "/v1/customers", params=CustomerCreateParams)
def customer_create(req: Request) -> JSON:
    p = req.params
    metadata = p.get("metadata")
    customer = store.create(
        "cus",
        "customer",
        {
            "address": _address(p.get("address")),
            "balance": int(p.get("balance") or 0),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": p.get("description"),
            "discount": None,
            "email": p.get("email"),
            "invoice_prefix": None,
            "invoice_settings": _invoice_settings(None),
            "livemode": False,
            "metadata": metadata if isinstance(metadata, dict) else {},
            "name": p.get("name"),
            "next_invoice_sequence": 1,
            "phone": p.get("phone"),
            "preferred_locales": list(p.get("preferred_locales") or []),
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        },
        account=req.account,
    )
    customer["invoice_prefix"] = customer["id"][4:12].upper()
    row = store.get_row(customer["id"])
    row.data["invoice_prefix"] = customer["invoice_prefix"]
    store.save(row)
    if p.get("payment_method"):
        pm = cards.resolve(p["payment_method"], account=req.account)
        _attach(pm["id"], customer["id"], req)
        if isinstance(p.get("invoice_settings"), dict):
            customer, _ = store.update(
                customer["id"],
                {"invoice_settings": _invoice_settings(p["invoice_settings"])},
            )
    emit("customer.created", customer, account=_event_account(req))
    return customer


@route("GET", "/v1/customers/{customer}", params=CustomerRetrieveParams)
def customer_retrieve(req: Request) -> JSON:
    row = store.get_row(
        req.args["customer"],
        object_type="customer",
        account=req.account,
        include_deleted=True,
        param="customer",
    )
    if row.deleted:
        return {"id": row.id, "object": "customer", "deleted": True}
    return dict(row.data)


@route("POST", "/v1/customers/{customer}", params=CustomerUpdateParams)
def customer_update(req: Request) -> JSON:
    p = dict(req.params)
    p.pop("expand", None)
    current = store.get(
        req.args["customer"], object_type="customer", account=req.account, param="customer"
    )
    changes: JSON = {}
    for key in ("email", "name", "phone", "description"):
        if key in p:
            changes[key] = p[key] or None
    if "metadata" in p:
        changes["metadata"] = p["metadata"]
    if "address" in p:
        changes["address"] = _address(p["address"])
    if "invoice_settings" in p:
        default = (p["invoice_settings"] or {}).get("default_payment_method")
        if default:
            pm = store.get(
                default,
                object_type="payment_method",
                account=req.account,
                param="invoice_settings[default_payment_method]",
            )
            if pm.get("customer") != current["id"]:
                raise invalid_request(
                    f"No such PaymentMethod: '{default}'; it is not attached to this customer.",
                    param="invoice_settings[default_payment_method]",
                )
        changes["invoice_settings"] = _invoice_settings(
            p["invoice_settings"], current["invoice_settings"]
        )
    customer, previous = store.update(
        current["id"], changes, object_type="customer", account=req.account
    )
    if previous:
        emit(
            "customer.updated", customer, account=_event_account(req), previous_attributes=previous
        )
    return customer


@route("DELETE", "/v1/customers/{customer}")
def customer_delete(req: Request) -> JSON:
    customer = store.get(
        req.args["customer"], object_type="customer", account=req.account, param="customer"
    )
    result = store.mark_deleted(customer["id"], object_type="customer", account=req.account)
    emit("customer.deleted", customer, account=_event_account(req))
    return result


@route("GET", "/v1/customers", params=CustomerListParams)
def customer_list(req: Request) -> JSON:
    qs = store.queryset("customer", account=req.account)
    if req.params.get("email"):
        qs = qs.filter(data__email=req.params["email"])
    return store.list_response(qs, req.params, url="/v1/customers")


# --- payment methods ------------------------------------------------------------------------
# Stripe.js creates PaymentMethods with the publishable key (stripe.createPaymentMethod).
@route("POST", "/v1/payment_methods", params=PaymentMethodCreateParams, publishable="open")
def payment_method_create(req: Request) -> JSON:
    p = req.params
    if p.get("payment_method") and req.publishable:
        raise invalid_request(
            "Cloning a PaymentMethod (payment_method) needs the secret key.",
            param="payment_method",
        )
    if p.get("payment_method"):
        # Cloning a platform PaymentMethod onto a connected account (Connect).
        source = cards.resolve(p["payment_method"], param="payment_method")
        return cards.payment_method_create(
            number=cards.number_of(source["id"]),
            exp_month=source["card"]["exp_month"],
            exp_year=source["card"]["exp_year"],
            account=req.account,
        )
    kind = str(p.get("type") or "card")
    if kind == "sepa_debit":
        billing = p.get("billing_details") or {}
        return sepa.payment_method_create(
            iban=str((p.get("sepa_debit") or {}).get("iban") or ""),
            name=str(billing.get("name") or ""),
            email=billing.get("email"),
            account=req.account,
        )
    if kind != "card":
        raise invalid_request(
            f"The payment method type `{kind}` is not supported by the Stripe sandbox, which "
            "emulates: card, sepa_debit.",
            param="type",
            code="payment_method_unactivated",
        )
    card = p.get("card")
    if not isinstance(card, dict):
        raise invalid_request(
            "Missing required param: card.", param="card", code="parameter_missing"
        )
    if card.get("token"):
        token = card["token"]
        if token not in cards.TOKENS:
            raise invalid_request(
                f"No such token: '{token}'",
                param="card[token]",
                code="resource_missing",
                status=404,
            )
        number = cards.TOKENS[token]
    else:
        for key in ("number", "exp_month", "exp_year"):
            if key not in card:
                raise invalid_request(
                    f"Missing required param: card[{key}].",
                    param=f"card[{key}]",
                    code="parameter_missing",
                )
        number = str(card["number"])
    pm = cards.payment_method_create(
        number=number,
        exp_month=int(card.get("exp_month") or 12),
        exp_year=int(card.get("exp_year") or 2034),
        account=req.account,
    )
    billing = p.get("billing_details")
    if isinstance(billing, dict):
        row = store.get_row(pm["id"])
        for key in ("email", "name", "phone"):
            if billing.get(key):
                row.data["billing_details"][key] = billing[key]
        if isinstance(billing.get("address"), dict):
            row.data["billing_details"]["address"] = _address(billing["address"])
        if isinstance(p.get("metadata"), dict):
            row.data["metadata"] = p["metadata"]
        pm = store.save(row)
    elif isinstance(p.get("metadata"), dict):
        pm, _ = store.update(pm["id"], {"metadata": p["metadata"]})
    return pm


@route("GET", "/v1/payment_methods/{payment_method}", params=PaymentMethodRetrieveParams)
def payment_method_retrieve(req: Request) -> JSON:
    return cards.resolve(req.args["payment_method"], account=req.account, param="payment_method")


@route("POST", "/v1/payment_methods/{payment_method}", params=PaymentMethodUpdateParams)
def payment_method_update(req: Request) -> JSON:
    p = req.params
    pm = store.get(
        req.args["payment_method"],
        object_type="payment_method",
        account=req.account,
        name="PaymentMethod",
        param="payment_method",
    )
    changes: JSON = {}
    if "metadata" in p:
        changes["metadata"] = p["metadata"]
    if isinstance(p.get("card"), dict):
        card = dict(pm["card"])
        for key in ("exp_month", "exp_year"):
            if key in p["card"]:
                card[key] = p["card"][key]
        changes["card"] = card
    updated, previous = store.update(pm["id"], changes, object_type="payment_method")
    if previous:
        emit(
            "payment_method.updated",
            updated,
            account=_event_account(req),
            previous_attributes=previous,
        )
    return updated


def _attach(pm_id: str, customer_id: str, req: Request) -> JSON:
    return attach_payment_method(pm_id, customer_id, account=req.account)


def attach_payment_method(pm_id: str, customer_id: str, *, account: str) -> JSON:
    """Attach the PaymentMethod to the customer (``payment_method.attached``); also what a
    succeeded SetupIntent and a PaymentIntent with ``setup_future_usage`` do. A detached
    PaymentMethod can't be attached again (Stripe's 400)."""
    store.get(customer_id, object_type="customer", account=account, param="customer")
    row = store.get_row(
        pm_id,
        object_type="payment_method",
        account=account,
        name="PaymentMethod",
        param="payment_method",
        for_update=True,
    )
    if row.private.get("detached"):
        raise invalid_request(
            "This PaymentMethod was previously used without being attached to a Customer or was "
            "detached from a Customer, and may not be used again.",
            param="payment_method",
        )
    if row.data.get("customer") and row.data["customer"] != customer_id:
        raise invalid_request(
            "The payment method you provided has already been attached to a customer.",
            param="payment_method",
        )
    if row.data.get("customer") == customer_id:
        return dict(row.data)
    row.data["customer"] = customer_id
    pm = store.save(row)
    emit("payment_method.attached", pm, account=account or None)
    return pm


@route("POST", "/v1/payment_methods/{payment_method}/attach", params=PaymentMethodAttachParams)
def payment_method_attach(req: Request) -> JSON:
    pm = cards.resolve(req.args["payment_method"], account=req.account)
    return _attach(pm["id"], req.params["customer"], req)


@route("POST", "/v1/payment_methods/{payment_method}/detach", params=PaymentMethodDetachParams)
def payment_method_detach(req: Request) -> JSON:
    row = store.get_row(
        req.args["payment_method"],
        object_type="payment_method",
        account=req.account,
        name="PaymentMethod",
        param="payment_method",
        for_update=True,
    )
    customer_id = row.data.get("customer")
    if not customer_id:
        raise invalid_request(
            "The payment method you provided is not attached to a customer so detachment "
            "is impossible.",
            param="payment_method",
        )
    row.data["customer"] = None
    row.private["detached"] = True  # Stripe: a detached PaymentMethod may not be used again
    pm = store.save(row)
    customer = store.get_row(customer_id, object_type="customer", include_deleted=True)
    if (customer.data.get("invoice_settings") or {}).get("default_payment_method") == pm["id"]:
        customer.data["invoice_settings"]["default_payment_method"] = None
        store.save(customer)
    emit(
        "payment_method.detached",
        pm,
        account=_event_account(req),
        previous_attributes={"customer": customer_id},
    )
    return pm


def _list_payment_methods(req: Request, customer_id: str | None, url: str) -> JSON:
    qs = store.queryset("payment_method", account=req.account)
    if customer_id:
        store.get(customer_id, object_type="customer", account=req.account, param="customer")
        qs = qs.filter(data__customer=customer_id)
    if req.params.get("type"):
        qs = qs.filter(data__type=req.params["type"])
    return store.list_response(qs, req.params, url=url)


@route("GET", "/v1/payment_methods", params=PaymentMethodListParams)
def payment_method_list(req: Request) -> JSON:
    return _list_payment_methods(req, req.params.get("customer"), "/v1/payment_methods")


@route("GET", "/v1/customers/{customer}/payment_methods", params=CustomerPaymentMethodListParams)
def customer_payment_method_list(req: Request) -> JSON:
    customer = req.args["customer"]
    return _list_payment_methods(req, customer, f"/v1/customers/{customer}/payment_methods")

"""Products (``/v1/products``) and Prices (``/v1/prices``): one-time and recurring."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from stripe.params import (
    PriceCreateParams,
    PriceListParams,
    PriceRetrieveParams,
    PriceUpdateParams,
    ProductCreateParams,
    ProductListParams,
    ProductRetrieveParams,
    ProductUpdateParams,
)

from sandbox import clock, store
from sandbox.errors import invalid_request
from sandbox.events import emit
from sandbox.router import Request, route

JSON = dict[str, Any]


def _account(req: Request) -> str | None:
    return req.account or None


def product_create(fields: JSON, *, account: str = "") -> JSON:
    """Store a product from ``ProductCreateParams``-shaped fields (also used by
    ``price_data[product_data]`` and Checkout's inline prices)."""
    if not fields.get("name"):
        raise invalid_request(
            "Missing required param: name.", param="name", code="parameter_missing"
        )
    metadata = fields.get("metadata")
    now = clock.now()
    return store.create(
        "prod",
        "product",
        {
            "active": fields.get("active", True),
            "default_price": None,
            "description": fields.get("description") or None,
            "images": list(fields.get("images") or []),
            "livemode": False,
            "marketing_features": [],
            "metadata": metadata if isinstance(metadata, dict) else {},
            "name": fields["name"],
            "package_dimensions": None,
            "shippable": None,
            "statement_descriptor": fields.get("statement_descriptor"),
            "tax_code": fields.get("tax_code"),
            "type": "service",
            "unit_label": fields.get("unit_label"),
            "updated": now,
            "url": fields.get("url"),
        },
        account=account,
        object_id=fields.get("id") or None,
    )


def price_create(fields: JSON, *, account: str = "") -> JSON:
    """Store a price from ``PriceCreateParams``-shaped fields (``product`` id or
    ``product_data``); ``recurring`` makes it a recurring price."""
    currency = str(fields.get("currency") or "").lower()
    if len(currency) != 3:
        raise invalid_request(
            "Missing required param: currency.", param="currency", code="parameter_missing"
        )
    unit_amount = fields.get("unit_amount")
    if unit_amount is None and fields.get("unit_amount_decimal") is not None:
        unit_amount = int(Decimal(str(fields["unit_amount_decimal"])))
    if unit_amount is None:
        raise invalid_request(
            "Missing required param: unit_amount.", param="unit_amount", code="parameter_missing"
        )
    if int(unit_amount) < 0:
        raise invalid_request("Invalid unit_amount: must be at least 0", param="unit_amount")
    if fields.get("product"):
        product_id = str(fields["product"])
        store.get(product_id, object_type="product", account=account, param="product")
    elif isinstance(fields.get("product_data"), dict):
        product_id = product_create(fields["product_data"], account=account)["id"]
        emit("product.created", store.get(product_id), account=account or None)
    else:
        raise invalid_request(
            "Missing required param: product.", param="product", code="parameter_missing"
        )
    recurring = _recurring(fields.get("recurring"), account=account)
    metadata = fields.get("metadata")
    return store.create(
        "price",
        "price",
        {
            "active": fields.get("active", True),
            "billing_scheme": "per_unit",
            "currency": currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": fields.get("lookup_key"),
            "metadata": metadata if isinstance(metadata, dict) else {},
            "nickname": fields.get("nickname"),
            "product": product_id,
            "recurring": recurring,
            "tax_behavior": fields.get("tax_behavior") or "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": int(unit_amount),
            "unit_amount_decimal": str(int(unit_amount)),
        },
        account=account,
    )


#: The longest billing interval Stripe accepts: three years (3 years, 36 months, 156 weeks).
MAX_INTERVAL_COUNT = {"day": 1095, "week": 156, "month": 36, "year": 3}


def _recurring(given: Any, *, account: str) -> JSON | None:
    """A price's ``recurring`` hash, with Stripe's rules: ``interval`` day/week/month/year,
    ``interval_count`` from 1 up to three years, ``usage_type=metered`` only with an active
    billing meter (``recurring[meter]``: legacy usage records are gone), a meter only on a
    metered price."""
    if given in (None, ""):
        return None
    if not isinstance(given, dict):
        raise invalid_request("Invalid recurring: must be a hash", param="recurring")
    interval = given.get("interval")
    if interval not in MAX_INTERVAL_COUNT:
        raise invalid_request(
            "Invalid recurring[interval]: must be one of day, week, month, or year",
            param="recurring[interval]",
        )
    count = int(given.get("interval_count") or 1)
    if count < 1 or count > MAX_INTERVAL_COUNT[interval]:
        raise invalid_request(
            "The interval is too long. Maximum of three years interval allowed (3 years, 36 "
            f"months, or 156 weeks); recurring[interval_count] must be between 1 and "
            f"{MAX_INTERVAL_COUNT[interval]} for interval={interval}.",
            param="recurring[interval_count]",
        )
    usage_type = given.get("usage_type") or "licensed"
    meter = given.get("meter") or None
    if usage_type == "metered":
        if not meter:
            raise invalid_request(
                "A metered price needs a billing meter: pass recurring[meter] (the id of a "
                "billing meter; usage records were removed).",
                param="recurring[meter]",
                code="parameter_missing",
            )
        found = store.queryset("billing.meter", account=account).filter(pk=meter).first()
        if found is None:
            raise invalid_request(
                f"No such billing.meter: '{meter}'",
                param="recurring[meter]",
                status=404,
                code="resource_missing",
            )
        if found.data.get("status") != "active":
            raise invalid_request(
                f"The billing meter '{meter}' is inactive.", param="recurring[meter]"
            )
    elif meter:
        raise invalid_request(
            "recurring[meter] can only be set when recurring[usage_type] is metered.",
            param="recurring[meter]",
        )
    if given.get("trial_period_days") not in (None, ""):
        raise invalid_request(
            "The sandbox does not emulate recurring[trial_period_days] on prices (a legacy "
            "field); use trial_period_days on the subscription.",
            param="recurring[trial_period_days]",
        )
    return {
        "interval": interval,
        "interval_count": count,
        "meter": meter,
        "trial_period_days": None,
        "usage_type": usage_type,
    }


@route("POST", "/v1/products", params=ProductCreateParams)
def create_product(req: Request) -> JSON:
    p = req.params
    product = product_create(p, account=req.account)
    emit("product.created", product, account=_account(req))
    if isinstance(p.get("default_price_data"), dict):
        price = price_create(
            {**p["default_price_data"], "product": product["id"]}, account=req.account
        )
        emit("price.created", price, account=_account(req))
        product, _ = store.update(product["id"], {"default_price": price["id"]})
    return product


@route("GET", "/v1/products/{id}", params=ProductRetrieveParams)
def retrieve_product(req: Request) -> JSON:
    return store.get(req.args["id"], object_type="product", account=req.account)


@route("POST", "/v1/products/{id}", params=ProductUpdateParams)
def update_product(req: Request) -> JSON:
    p = dict(req.params)
    p.pop("expand", None)
    changes: JSON = {
        k: p[k]
        for k in (
            "active",
            "name",
            "description",
            "metadata",
            "images",
            "url",
            "statement_descriptor",
            "unit_label",
            "tax_code",
            "shippable",
        )
        if k in p
    }
    for key in ("description", "url", "statement_descriptor", "unit_label", "tax_code"):
        if changes.get(key) == "":
            changes[key] = None
    if "name" in changes and not changes["name"]:
        raise invalid_request("The name of a product cannot be blank.", param="name")
    if "default_price" in p:
        store.get(
            p["default_price"], object_type="price", account=req.account, param="default_price"
        )
        changes["default_price"] = p["default_price"]
    product, previous = store.update(
        req.args["id"], changes, object_type="product", account=req.account
    )
    if previous:
        product, _ = store.update(product["id"], {"updated": clock.now()})
        emit("product.updated", product, account=_account(req), previous_attributes=previous)
    return product


@route("DELETE", "/v1/products/{id}")
def delete_product(req: Request) -> JSON:
    product = store.get(req.args["id"], object_type="product", account=req.account)
    if store.queryset("price", account=req.account).filter(data__product=product["id"]).exists():
        raise invalid_request(
            "This product cannot be deleted because it has one or more user-created prices.",
            param="id",
        )
    result = store.mark_deleted(product["id"], object_type="product", account=req.account)
    emit("product.deleted", product, account=_account(req))
    return result


@route("GET", "/v1/products", params=ProductListParams)
def list_products(req: Request) -> JSON:
    qs = store.queryset("product", account=req.account)
    if "active" in req.params:
        qs = qs.filter(data__active=req.params["active"])
    if req.params.get("ids"):
        qs = qs.filter(pk__in=req.params["ids"])
    return store.list_response(qs, req.params, url="/v1/products")


@route("POST", "/v1/prices", params=PriceCreateParams)
def create_price(req: Request) -> JSON:
    price = price_create(req.params, account=req.account)
    emit("price.created", price, account=_account(req))
    return price


@route("GET", "/v1/prices/{id}", params=PriceRetrieveParams)
def retrieve_price(req: Request) -> JSON:
    return store.get(req.args["id"], object_type="price", account=req.account)


@route("POST", "/v1/prices/{id}", params=PriceUpdateParams)
def update_price(req: Request) -> JSON:
    p = dict(req.params)
    changes: JSON = {k: p[k] for k in ("active", "nickname", "metadata", "lookup_key") if k in p}
    price, previous = store.update(
        req.args["id"], changes, object_type="price", account=req.account
    )
    if previous:
        emit("price.updated", price, account=_account(req), previous_attributes=previous)
    return price


@route("GET", "/v1/prices", params=PriceListParams)
def list_prices(req: Request) -> JSON:
    p = req.params
    qs = store.queryset("price", account=req.account)
    if "active" in p:
        qs = qs.filter(data__active=p["active"])
    if p.get("product"):
        qs = qs.filter(data__product=p["product"])
    if p.get("currency"):
        qs = qs.filter(data__currency=p["currency"].lower())
    if p.get("type"):
        qs = qs.filter(data__type=p["type"])
    if p.get("lookup_keys"):
        qs = qs.filter(data__lookup_key__in=p["lookup_keys"])
    return store.list_response(qs, p, url="/v1/prices")

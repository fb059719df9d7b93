"""Forms of the buying side: they parse and validate; the services decide."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.conf import settings

from buyers.selectors import DEFAULT_SORT, SORTS, CatalogueQuery


class CatalogueForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    category = forms.SlugField(required=False, max_length=60)
    seller = forms.SlugField(required=False, max_length=50)
    min_price = forms.DecimalField(
        required=False, min_value=Decimal(0), max_digits=12, decimal_places=3, label="Min price"
    )
    max_price = forms.DecimalField(
        required=False, min_value=Decimal(0), max_digits=12, decimal_places=3, label="Max price"
    )
    sort = forms.ChoiceField(
        required=False, choices=[(key, label) for key, (label, _, _) in SORTS.items()]
    )
    cursor = forms.CharField(required=False, max_length=200)

    def to_query(self) -> CatalogueQuery:
        """The valid parts of the request; a bad field is ignored (and shown as an error)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        min_price, max_price = data.get("min_price"), data.get("max_price")
        if min_price is not None and max_price is not None and min_price > max_price:
            min_price, max_price = max_price, min_price
        return CatalogueQuery(
            q=(data.get("q") or "").strip(),
            category=data.get("category") or "",
            seller=data.get("seller") or "",
            min_price=min_price,
            max_price=max_price,
            sort=data.get("sort") or DEFAULT_SORT,
            cursor=data.get("cursor") or "",
        )


class BuyForm(forms.Form):
    # Bounds are checked by order_create, which says what is wrong in the buyer's words.
    quantity = forms.IntegerField(
        initial=1, error_messages={"invalid": "Enter a whole number of items."}
    )
    # One per rendering of the form: a second submit of the same form finds the first order.
    client_token = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: object, max_quantity: int | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        limit = settings.ORDER_MAX_QUANTITY
        if max_quantity is not None:
            limit = max(1, min(limit, max_quantity))
        self.fields["quantity"].widget.attrs.update({"max": limit, "min": 1})
        if not self.is_bound:
            self.initial.setdefault("client_token", uuid.uuid4())


class CartQuantityForm(forms.Form):
    # Bounds are checked by the cart services, which say what is wrong in the buyer's words.
    quantity = forms.IntegerField(
        initial=1, error_messages={"invalid": "Enter a whole number of items."}
    )

    def __init__(self, *args: object, allow_zero: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["quantity"].widget.attrs.update(
            {"min": 0 if allow_zero else 1, "max": settings.ORDER_MAX_QUANTITY}
        )


class CartCheckoutForm(forms.Form):
    currency = forms.CharField(max_length=3, widget=forms.HiddenInput)
    # One per rendering of the cart page: a second submit finds the first purchase.
    client_token = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if not self.is_bound:
            self.initial.setdefault("client_token", uuid.uuid4())

    def clean_currency(self) -> str:
        return str(self.cleaned_data["currency"]).lower()


class ShipForm(forms.Form):
    carrier = forms.CharField(
        required=False, max_length=64, label="Carrier", help_text="e.g. La Poste, DHL, UPS"
    )
    tracking_number = forms.CharField(required=False, max_length=64, label="Tracking number")
    note = forms.CharField(
        required=False,
        max_length=255,
        label="Note for the buyer",
        help_text="Anything else: how to pick it up, when it should arrive.",
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        data["carrier"] = str(data.get("carrier") or "").strip()
        data["tracking_number"] = str(data.get("tracking_number") or "").strip()
        if data["tracking_number"] and not data["carrier"]:
            self.add_error("carrier", "Say which carrier the tracking number is from.")
        return data

"""Forms of the sellers app: they parse and report; the services decide and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse_lazy

from marketplace.errors import UserFacingError
from marketplace.money import Money, price_example, price_input_error
from marketplace.stripe_gateway import stripe_js_available
from sellers import services
from sellers.countries import country_choices
from sellers.images import MAX_IMAGES_PER_LISTING, validate_image
from sellers.models import Category, Listing, Seller


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


def currency_choices() -> list[tuple[str, str]]:
    return [(code, code.upper()) for code in settings.MARKETPLACE_CURRENCIES]


class StartSellingForm(forms.Form):
    display_name = forms.CharField(
        label="Shop name", max_length=80, help_text="What buyers see, e.g. “Ana's Ceramics”."
    )
    slug = forms.CharField(
        label="Shop address",
        max_length=50,
        help_text="Lower-case letters, digits and hyphens: your shop's web address.",
    )
    country = forms.ChoiceField(
        label="Country", help_text="Where you (or your business) are based."
    )
    default_currency = forms.ChoiceField(
        label="Default currency", help_text="Listings are priced in it unless you choose another."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "country").choices = [("", "Choose a country"), *country_choices()]
        _choice_field(self, "default_currency").choices = currency_choices()

    def clean_slug(self) -> str:
        try:
            return services.validate_shop_slug(self.cleaned_data["slug"])
        except UserFacingError as exc:
            raise forms.ValidationError(exc.message) from None


class ShopSettingsForm(forms.Form):
    display_name = forms.CharField(label="Shop name", max_length=80)
    default_currency = forms.ChoiceField(label="Default currency")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "default_currency").choices = currency_choices()


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several image uploads in one input; each is checked with Pillow and the size limit."""

    widget = MultipleImageInput

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile[bytes]]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        cleaned: list[UploadedFile[bytes]] = []
        errors: list[str] = []
        for upload in files:
            upload = super().clean(upload, initial)
            if not upload:
                continue
            try:
                validate_image(upload)
            except UserFacingError as exc:
                errors.append(exc.message)
                continue
            cleaned.append(upload)
        if errors:
            raise forms.ValidationError(errors)
        return cleaned


FEE_PREVIEW_ATTRS = {
    "hx-get": reverse_lazy("sellers:fee_preview"),
    "hx-target": "#fee-preview",
    "hx-swap": "outerHTML",
}


class ListingForm(forms.Form):
    title = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False)
    category = forms.ModelChoiceField(
        queryset=Category.objects.none(),
        required=False,
        empty_label="No category",
        help_text="A category can carry its own platform fee; the preview below uses it.",
        widget=forms.Select(
            attrs={
                **FEE_PREVIEW_ATTRS,
                "hx-trigger": "change",
                "hx-include": "[name=price],[name=currency]",
            }
        ),
    )
    price = forms.CharField(
        label="Price",
        max_length=20,
        help_text="What the buyer pays for one, e.g. 24.90",
        widget=forms.TextInput(
            attrs={
                "inputmode": "decimal",
                "autocomplete": "off",
                **FEE_PREVIEW_ATTRS,
                "hx-trigger": "input changed delay:300ms",
                "hx-include": "[name=currency],[name=category]",
            }
        ),
    )
    currency = forms.ChoiceField(
        widget=forms.Select(
            attrs={
                **FEE_PREVIEW_ATTRS,
                "hx-trigger": "change",
                "hx-include": "[name=price],[name=category]",
            }
        )
    )
    stock = forms.IntegerField(
        required=False,
        help_text="How many you have. Leave empty for unlimited (made to order, digital).",
    )
    accepts_orders_first = forms.BooleanField(
        required=False,
        label="I accept each order before it is charged",
        help_text=(
            "The buyer's card is only authorised; you accept the order (all of it or the units "
            "you can send) or decline it within the time shown on the order, and only then is "
            "the buyer charged. Orders of this listing are paid on their own, not with other "
            "shops' items."
        ),
    )
    images = MultipleImageField(
        required=False,
        help_text=f"JPEG, PNG, WebP or GIF, up to 5 MB each, at most {MAX_IMAGES_PER_LISTING}.",
        widget=MultipleImageInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}),
    )

    def __init__(self, *args: Any, seller: Seller, listing: Listing | None = None, **kwargs: Any):
        if listing is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "title": listing.title,
                "description": listing.description,
                "category": listing.category_id,
                "price": listing.price.major_str(),
                "currency": listing.currency,
                "stock": listing.stock,
                "accepts_orders_first": listing.accepts_orders_first,
            }
        kwargs.setdefault("initial", {}).setdefault("currency", seller.default_currency)
        super().__init__(*args, **kwargs)
        self.seller = seller
        self.listing = listing
        if not stripe_js_available():
            # Authorising without charging runs on the on-site payment page (Stripe.js).
            del self.fields["accepts_orders_first"]
        example = price_example(listing.currency if listing else seller.default_currency)
        self.fields["price"].help_text = f"What the buyer pays for one, e.g. {example}"
        category = self.fields["category"]
        assert isinstance(category, forms.ModelChoiceField)
        category.queryset = Category.objects.order_by("name")
        choices = currency_choices()
        if listing is not None and listing.currency not in dict(choices):
            choices.append((listing.currency, listing.currency.upper()))
        _choice_field(self, "currency").choices = choices
        if listing is not None:
            self.fields["remove_images"] = forms.MultipleChoiceField(
                required=False,
                choices=[(str(image.pk), str(image.pk)) for image in listing.images.all()],
                widget=forms.CheckboxSelectMultiple,
                label="Remove images",
            )

    def clean_stock(self) -> int | None:
        stock: int | None = self.cleaned_data.get("stock")
        if stock is not None and stock < 0:
            raise forms.ValidationError("Stock cannot be below zero.")
        return stock

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw_price = (data.get("price") or "").strip().replace(",", ".")
        currency = data.get("currency")
        if raw_price and currency:
            try:
                price = Money.from_major(raw_price, currency)
            except ValueError:
                self.add_error("price", price_input_error(currency))
            else:
                try:
                    data["money"] = services.validate_price(price)
                except UserFacingError as exc:
                    self.add_error(exc.field or "price", exc.message)
        images = data.get("images") or []
        existing = self.listing.images.count() if self.listing else 0
        removing = len(data.get("remove_images") or [])
        if existing - removing + len(images) > MAX_IMAGES_PER_LISTING:
            self.add_error("images", f"A listing can have at most {MAX_IMAGES_PER_LISTING} images.")
        return data


class FeePreviewForm(forms.Form):
    price = forms.CharField(required=False)
    currency = forms.CharField(required=False)
    # The listing's category: a category fee rule applies at checkout, so the preview uses it.
    category = forms.ModelChoiceField(queryset=Category.objects.all(), required=False)

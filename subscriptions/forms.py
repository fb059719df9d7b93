"""Forms of subscriptions: they parse what people type into typed values; the services check
the rules (so a rule is written once) and the views show their messages on the fields."""

from __future__ import annotations

from typing import Any

from django import forms

from marketplace.money import Money, price_example, price_input_error
from subscriptions.models import MAX_TRIAL_DAYS, REQUEST_MAX, InvoiceRefundRequest, Plan
from subscriptions.services import PlanInput


def _parse_price(raw: str, currency: str, *, what: str = "price") -> int | None:
    text = (raw or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return Money.from_major(text, currency).amount
    except ValueError:
        raise forms.ValidationError(price_input_error(currency, what=what)) from None


class PlanForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="e.g. Monthly box, Yearly membership")
    price = forms.CharField(max_length=20, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    interval = forms.ChoiceField(choices=Plan.Interval.choices, label="Billed")
    trial_days = forms.IntegerField(
        required=False,
        label="Free trial (days)",
        help_text=f"0 to {MAX_TRIAL_DAYS}; empty for none.",
    )
    meter_name = forms.CharField(
        max_length=60,
        required=False,
        label="Usage-based part: what you count (optional)",
        help_text="e.g. lessons taken; you record it for each subscriber and it is billed with the plan.",
    )
    usage_price = forms.CharField(
        max_length=20,
        required=False,
        label="Price per unit of usage",
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Open to new subscribers")

    def __init__(self, *args: Any, currency: str, plan: Plan | None = None, **kwargs: Any):
        if plan is not None and "initial" not in kwargs:
            usage = plan.usage_price
            kwargs["initial"] = {
                "name": plan.name,
                "price": plan.price.major_str(),
                "interval": plan.interval,
                "trial_days": plan.trial_days,
                "meter_name": plan.meter_name,
                "usage_price": usage.major_str() if usage else "",
                "is_active": plan.is_active,
            }
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields[
            "price"
        ].help_text = f"In {currency.upper()}, per billing period, e.g. {price_example(currency)}"

    def clean_price(self) -> int:
        value = _parse_price(self.cleaned_data.get("price", ""), self.currency)
        if value is None:
            raise forms.ValidationError("Give the plan's price.")
        return value

    def clean_usage_price(self) -> int | None:
        return _parse_price(self.cleaned_data.get("usage_price", ""), self.currency)

    def clean_interval(self) -> str:
        return str(self.cleaned_data["interval"])

    def to_input(self) -> PlanInput:
        data = self.cleaned_data
        return PlanInput(
            name=data["name"],
            amount=data["price"],
            interval=data["interval"],
            trial_days=data.get("trial_days") or 0,
            meter_name=data.get("meter_name") or "",
            usage_unit_amount=data.get("usage_price"),
        )


class UsageForm(forms.Form):
    quantity = forms.CharField(
        max_length=12, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    note = forms.CharField(max_length=200, required=False)


class UsageCsvForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="One line per record: subscription number, quantity, optional note.",
    )


class RefundRequestForm(forms.Form):
    """The buyer asks for a refund of one paid invoice."""

    reason = forms.ChoiceField(
        label="Why do you ask for a refund?",
        choices=InvoiceRefundRequest.Reason.choices,
        widget=forms.RadioSelect,
    )
    message = forms.CharField(
        label="Tell the seller",
        max_length=REQUEST_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=f"Up to {REQUEST_MAX} characters.",
    )
    amount = forms.CharField(
        label="Amount to refund (optional)",
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        help_text="Leave empty to ask for all that remains of the invoice.",
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_amount(self) -> int | None:
        return _parse_price(self.cleaned_data.get("amount", ""), self.currency, what="amount")

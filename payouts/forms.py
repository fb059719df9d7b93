"""Forms of the payouts app: they parse input; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from marketplace.money import KNOWN_CURRENCIES, Money
from sellers.models import Category, FeeRule, Seller


def _minor(value: str, currency: str, label: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return Money.from_major(value, currency).amount
    except ValueError as exc:
        raise forms.ValidationError(f"{label} in {currency.upper()}: {exc}") from None


class FeeRuleForm(forms.Form):
    """A fee rule version. Per currency: covered?, fixed fee, minimum, maximum (major units)."""

    scope = forms.ChoiceField(choices=FeeRule.Scope.choices)
    seller = forms.ModelChoiceField(
        queryset=Seller.objects.order_by("display_name"), required=False
    )
    category = forms.ModelChoiceField(queryset=Category.objects.all(), required=False)
    starts_on = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), help_text="The rule applies from this day"
    )
    bps = forms.IntegerField(
        label="Basis points", help_text="100 basis points = 1 % of the amount (at most 10,000)"
    )
    note = forms.CharField(max_length=200, required=False, help_text="Why (kept in the history)")

    def __init__(self, *args: Any, currencies: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currencies = currencies or list(settings.MARKETPLACE_CURRENCIES)
        for currency in self.currencies:
            code = currency.upper()
            self.fields[f"cover_{currency}"] = forms.BooleanField(
                required=False, label=f"Covers {code}"
            )
            self.fields[f"fixed_{currency}"] = forms.CharField(
                required=False, label=f"Fixed fee ({code})"
            )
            self.fields[f"min_{currency}"] = forms.CharField(
                required=False, label=f"Minimum ({code})"
            )
            self.fields[f"max_{currency}"] = forms.CharField(
                required=False, label=f"Maximum ({code})"
            )
        if not self.is_bound and "starts_on" not in self.initial:
            self.initial["starts_on"] = timezone.now().date()

    def currency_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "code": c.upper(),
                "cover": self[f"cover_{c}"],
                "fixed": self[f"fixed_{c}"],
                "min": self[f"min_{c}"],
                "max": self[f"max_{c}"],
            }
            for c in self.currencies
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        covered, fixed, mins, maxs = [], {}, {}, {}
        for currency in self.currencies:
            if data.get(f"cover_{currency}"):
                covered.append(currency)
            try:
                fixed[currency] = _minor(data.get(f"fixed_{currency}", ""), currency, "Fixed fee")
                mins[currency] = _minor(data.get(f"min_{currency}", ""), currency, "Minimum")
                maxs[currency] = _minor(data.get(f"max_{currency}", ""), currency, "Maximum")
            except forms.ValidationError as exc:
                self.add_error(f"fixed_{currency}", exc)
        data["currencies"], data["fixed_fees"], data["minimums"], data["maximums"] = (
            covered,
            fixed,
            mins,
            maxs,
        )
        return data

    @classmethod
    def initial_from(cls, rule: FeeRule) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "scope": rule.scope,
            "seller": rule.seller_id,
            "category": rule.category_id,
            "starts_on": rule.starts_on,
            "bps": rule.bps,
        }
        for currency in rule.currencies:
            initial[f"cover_{currency}"] = True
        for key, values in (
            ("fixed", rule.fixed_fees),
            ("min", rule.minimums),
            ("max", rule.maximums),
        ):
            for currency, amount in values.items():
                initial[f"{key}_{currency}"] = Money(int(amount), currency).major_str()
        return initial


class FeeSimulatorForm(forms.Form):
    amount = forms.CharField(initial="25.00", help_text="In major units, e.g. 25.00")
    currency = forms.ChoiceField(choices=[])
    category = forms.ModelChoiceField(queryset=Category.objects.all(), required=False)
    seller = forms.ModelChoiceField(
        queryset=Seller.objects.order_by("display_name"), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [  # type: ignore[attr-defined]
            (c, c.upper()) for c in settings.MARKETPLACE_CURRENCIES
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        currency = data.get("currency")
        if currency and currency in KNOWN_CURRENCIES and "amount" in data:
            try:
                money = Money.from_major(data["amount"], currency)
            except ValueError as exc:
                self.add_error("amount", str(exc))
            else:
                if money.amount <= 0:
                    self.add_error("amount", "Enter an amount above zero.")
                else:
                    data["money"] = money
        return data


class TransferFilterForm(forms.Form):
    seller = forms.ModelChoiceField(
        queryset=Seller.objects.order_by("display_name"), required=False
    )
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any status"),
            ("paid", "Paid"),
            ("partially_reversed", "Partially reversed"),
            ("reversed", "Fully reversed"),
        ],
    )
    currency = forms.ChoiceField(required=False, choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [("", "Any currency")] + [  # type: ignore[attr-defined]
            (c, c.upper()) for c in settings.MARKETPLACE_CURRENCIES
        ]


class EvidenceForm(forms.Form):
    text = forms.CharField(
        label="What the bank should know",
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=20_000,
        help_text="What the bank should know: delivery proof, tracking, messages with the buyer.",
        error_messages={"required": "Write what the bank should know before sending."},
    )
    receipt = forms.FileField(
        label="Receipt or invoice", required=False, help_text="PDF, JPEG or PNG, at most 5MB."
    )
    shipping_documentation = forms.FileField(
        label="Proof of shipping or delivery",
        required=False,
        help_text="The carrier's receipt or tracking page, signed delivery: PDF, JPEG or PNG.",
    )
    uncategorized_file = forms.FileField(
        label="Other document", required=False, help_text="PDF, JPEG or PNG, at most 5MB."
    )

    FILE_FIELDS = ("receipt", "shipping_documentation", "uncategorized_file")

    def clean(self) -> dict[str, Any]:
        from payouts.services.disputes import EVIDENCE_FILE_MAX, evidence_file_problem

        data = super().clean() or {}
        for name in self.FILE_FIELDS:
            upload = data.get(name)
            if not upload:
                continue
            if upload.size > EVIDENCE_FILE_MAX:
                content = b"x" * (EVIDENCE_FILE_MAX + 1)  # only the size matters
            else:
                content = upload.read()
                upload.seek(0)
            problem = evidence_file_problem(filename=upload.name, content=content)
            if problem:
                self.add_error(name, problem)
        return data

    def evidence_files(self) -> list[Any]:
        """The chosen files as ``EvidenceFile``s (call after ``is_valid``)."""
        from payouts.services.disputes import EvidenceFile

        files = []
        for name in self.FILE_FIELDS:
            upload = self.cleaned_data.get(name)
            if upload:
                files.append(EvidenceFile(field=name, filename=upload.name, content=upload.read()))
        return files


class RefundForm(forms.Form):
    amount = forms.CharField(help_text="In major units, e.g. 12.50; at most what remains")
    reason = forms.ChoiceField(choices=[])
    note = forms.CharField(max_length=500, required=False, widget=forms.TextInput)
    platform_covers = forms.BooleanField(
        required=False,
        label="Refund from the platform's balance",
        help_text="The seller keeps their share and the platform keeps nothing of its fee: use "
        "it when the seller's balance has been paid out",
    )
    client_token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, currency: str, staff: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from payouts.models import RefundRequest

        self.currency = currency
        self.fields["reason"].choices = RefundRequest.Reason.choices  # type: ignore[attr-defined]
        if not staff:  # only staff may pay a refund from the platform's balance
            del self.fields["platform_covers"]

    def clean_amount(self) -> int:
        try:
            return Money.from_major(self.cleaned_data["amount"], self.currency).amount
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class SaleRefundForm(forms.Form):
    """The seller refunds (part of) their own order from the sale page: the whole of what
    remains, an amount, or some units of its lines (``line_<id>`` fields, one per line)."""

    how = forms.ChoiceField(
        label="Refund",
        choices=[
            ("all", "Everything that remains"),
            ("amount", "An amount"),
            ("lines", "Some items"),
        ],
        initial="all",
        widget=forms.RadioSelect,
    )
    amount = forms.CharField(
        label="Amount to refund",
        required=False,
        help_text="With “An amount”: in major units, e.g. 12.50; at most what remains",
    )
    reason = forms.ChoiceField(choices=[])
    note = forms.CharField(max_length=500, required=False, widget=forms.TextInput)
    client_token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, order: Any, remaining: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from payouts.models import RefundRequest

        self.order = order
        self.remaining = remaining
        self.fields["reason"].choices = RefundRequest.Reason.choices  # type: ignore[attr-defined]
        self.line_fields: list[tuple[Any, str]] = []
        for line in order.lines.all():
            name = f"line_{line.pk}"
            self.fields[name] = forms.IntegerField(
                label=f"{line.title} ({line.quantity} bought, "
                f"{Money(line.unit_amount, order.currency)} each)",
                min_value=0,
                max_value=line.quantity,
                required=False,
                initial=0,
            )
            self.line_fields.append((line, name))

    def lines_bound(self) -> list[Any]:
        return [self[name] for _line, name in self.line_fields]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        how = data.get("how")
        data["refund_amount"] = None
        data["refund_lines"] = None
        if how == "all":
            data["refund_amount"] = self.remaining
        elif how == "amount":
            raw = (data.get("amount") or "").strip()
            if not raw:
                self.add_error("amount", "Enter the amount to refund.")
            else:
                try:
                    data["refund_amount"] = Money.from_major(raw, self.order.currency).amount
                except ValueError as exc:
                    self.add_error("amount", str(exc))
        elif how == "lines":
            data["refund_lines"] = {
                line.pk: int(data.get(name) or 0) for line, name in self.line_fields
            }
        return data


class ReconcileForm(forms.Form):
    """Staff: run the reconciliation for a range of UTC days now."""

    start_day = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    end_day = forms.DateField(label="Last day", widget=forms.DateInput(attrs={"type": "date"}))


class InvoiceRefundForm(forms.Form):
    """A refund of a paid subscription invoice (the seller's subscriber page, or staff): all
    that remains or an amount; optionally the subscription ends now too."""

    how = forms.ChoiceField(
        label="Refund",
        choices=[("all", "Everything that remains"), ("amount", "An amount")],
        initial="all",
        widget=forms.RadioSelect,
    )
    amount = forms.CharField(
        label="Amount to refund",
        required=False,
        help_text="With “An amount”: in major units, e.g. 12.50; at most what remains",
    )
    reason = forms.ChoiceField(choices=[])
    note = forms.CharField(max_length=500, required=False, widget=forms.TextInput)
    cancel_now = forms.BooleanField(
        required=False,
        label="Also cancel the subscription now",
        help_text="Without it the subscription goes on (a refund does not cancel it); with it, "
        "it ends at once, with no further credit for the unused time",
    )
    platform_covers = forms.BooleanField(
        required=False,
        label="Refund from the platform's balance",
        help_text="The seller keeps their share and the platform keeps nothing of its fee: use "
        "it when the seller's balance has been paid out",
    )
    client_token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, currency: str, remaining: int, staff: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        from payouts.models import RefundRequest

        self.currency = currency
        self.remaining = remaining
        self.fields["reason"].choices = RefundRequest.Reason.choices  # type: ignore[attr-defined]
        if not staff:  # only staff may pay a refund from the platform's balance
            del self.fields["platform_covers"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["refund_amount"] = None
        if data.get("how") == "all":
            data["refund_amount"] = self.remaining
        elif data.get("how") == "amount":
            raw = (data.get("amount") or "").strip()
            if not raw:
                self.add_error("amount", "Enter the amount to refund.")
            else:
                try:
                    data["refund_amount"] = Money.from_major(raw, self.currency).amount
                except ValueError as exc:
                    self.add_error("amount", str(exc))
        return data

"""Forms of the after-sale. Limits come from the models; the services check them again."""

from __future__ import annotations

from typing import Any

from django import forms

from buyers.aftersale.models import MESSAGE_MAX, REPORT_MAX, REVIEW_MAX, ProblemReport
from marketplace.money import Money


def _major_amount(value: str, currency: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return Money.from_major(value, currency).amount
    except ValueError as exc:
        raise forms.ValidationError(str(exc)) from None


class ProblemForm(forms.Form):
    reason = forms.ChoiceField(
        label="What went wrong?", choices=ProblemReport.Reason.choices, widget=forms.RadioSelect
    )
    message = forms.CharField(
        label="Tell the seller",
        max_length=REPORT_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=f"Up to {REPORT_MAX} characters. The seller and, if needed, the platform team "
        "read it.",
    )
    wants_refund = forms.BooleanField(label="I ask for a refund", required=False, initial=True)
    amount = forms.CharField(
        label="Amount to refund (optional)",
        required=False,
        help_text="Leave empty to ask for all that remains of the order.",
    )

    def __init__(self, *args: Any, currency: str, lines: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.line_fields: list[str] = []
        lines = list(lines)
        if len(lines) > 1 or (lines and lines[0].quantity > 1):
            # Items: how many of each line the refund is asked for (instead of an amount).
            for line in lines:
                name = f"line_{line.pk}"
                self.fields[name] = forms.IntegerField(
                    label=f"{line.title}: units to refund (of {line.quantity})",
                    min_value=0,
                    max_value=line.quantity,
                    required=False,
                )
                self.line_fields.append(name)
            self.fields[
                "amount"
            ].help_text = (
                "Leave empty to ask for all that remains of the order, or choose items below."
            )

    def clean_amount(self) -> int | None:
        return _major_amount(self.cleaned_data.get("amount", ""), self.currency)

    def chosen_lines(self) -> dict[int, int]:
        """``{order line id: units}`` the buyer asked a refund for (after ``is_valid``)."""
        return {
            int(name.removeprefix("line_")): self.cleaned_data[name]
            for name in self.line_fields
            if self.cleaned_data.get(name)
        }


class MessageForm(forms.Form):
    body = forms.CharField(
        label="Your message",
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"Up to {MESSAGE_MAX} characters; the other side is emailed.",
    )


class ReviewForm(forms.Form):
    rating = forms.TypedChoiceField(
        label="Your rating",
        coerce=int,
        choices=[(n, f"{n} star{'s' if n > 1 else ''}") for n in range(5, 0, -1)],
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a rating from 1 to 5 stars.",
            "invalid_choice": "Choose a rating from 1 to 5 stars.",
        },
    )
    body = forms.CharField(
        label="Your review",
        max_length=REVIEW_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Write a few words about the order."},
    )


class ReplyForm(forms.Form):
    reply = forms.CharField(
        label="Your reply", max_length=REVIEW_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )


class DeclineForm(forms.Form):
    answer = forms.CharField(
        label="Why you decline",
        max_length=REPORT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say why, so the buyer understands."},
    )


class GrantForm(forms.Form):
    amount = forms.CharField(label="Amount to refund", help_text="At most what remains.")
    answer = forms.CharField(
        label="A word to the buyer (optional)",
        max_length=REPORT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    platform_covers = forms.BooleanField(
        required=False,
        label="Refund from the platform's balance",
        help_text="Staff only: the seller keeps their share (their balance has been paid out).",
    )
    client_token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, currency: str, staff: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        if not staff:
            del self.fields["platform_covers"]

    def clean_amount(self) -> int:
        amount = _major_amount(self.cleaned_data.get("amount", ""), self.currency)
        if amount is None:
            raise forms.ValidationError("Enter the amount to refund.")
        return amount


class HideForm(forms.Form):
    review_id = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    reason = forms.CharField(
        label="Why hide it",
        max_length=255,
        error_messages={"required": "Say why the review is hidden."},
    )

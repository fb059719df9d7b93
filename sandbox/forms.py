from __future__ import annotations

from django import forms

from sandbox.resources.accounts import BANK_SUCCESS, OUTCOMES


class OnboardingForm(forms.Form):
    business_name = forms.CharField(max_length=100, label="Business or seller name")
    business_type = forms.ChoiceField(
        choices=[("individual", "Individual / sole proprietor"), ("company", "Company")],
        initial="individual",
    )
    email = forms.EmailField(required=False)
    account_number = forms.CharField(
        max_length=34,
        required=False,
        initial=BANK_SUCCESS,
        label="Bank account number",
        help_text="Test numbers: 000123456789 succeeds; 000111111116 makes payouts fail "
        "(no_account); 000111111113 account_closed; 000222222227 insufficient_funds.",
    )
    outcome = forms.ChoiceField(
        choices=list(OUTCOMES.items()), initial="complete", widget=forms.RadioSelect
    )
    session = forms.CharField(widget=forms.HiddenInput)

    def clean_account_number(self) -> str:
        value: str = self.cleaned_data["account_number"].replace(" ", "")
        if value and not value.isalnum():
            raise forms.ValidationError("Use digits (or an IBAN).")
        return value

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("outcome") != "external_account_due" and not data.get("account_number"):
            self.add_error(
                "account_number",
                "Enter a bank account, or pick the outcome that leaves it due.",
            )
        return data

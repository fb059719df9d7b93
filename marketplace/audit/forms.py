from __future__ import annotations

from django import forms

from marketplace.audit.models import AuditEntry


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=254, help_text="Email or command")
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditEntry.Action.choices]
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    obj = forms.CharField(
        required=False, max_length=255, label="Object", help_text="Id, Stripe id or name"
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end is before the start.")
        for name in ("actor", "obj"):
            if "\x00" in str(data.get(name) or ""):
                self.add_error(name, "Remove the NUL character.")
        return data

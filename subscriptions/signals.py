"""Signals the money side listens to (payouts sits above this app and connects in its ready()).

``invoice_paid(charge_id=...)``: one of our subscriptions' invoices was paid by that charge
(a destination charge to the seller); sent after the invoice is recorded, on commit.
"""

from __future__ import annotations

from django.dispatch import Signal

invoice_paid = Signal()

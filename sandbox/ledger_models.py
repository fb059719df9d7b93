"""Indexed columns of the sandbox's balance transactions (``txn_…``).

The API JSON of a balance transaction lives in ``SandboxObject`` like every object (so
``expand[]=balance_transaction`` works generically); ``BalanceEntry`` repeats the columns that
balances and list filters need, indexed, so that ``GET /v1/balance`` is one aggregate query and
``GET /v1/balance_transactions`` pages through many thousands of rows without loading them all.
"""

from __future__ import annotations

from django.db import models

from sandbox.models import next_seq


class BalanceEntry(models.Model):
    id = models.CharField(primary_key=True, max_length=255)  # the txn_ id
    # The account whose balance moves ("" = the platform).
    account = models.CharField(max_length=255, blank=True, default="")
    currency = models.CharField(max_length=3)
    type = models.CharField(max_length=64)
    amount = models.BigIntegerField()
    fee = models.BigIntegerField(default=0)
    net = models.BigIntegerField()
    # Unix seconds on the sandbox clock.
    created = models.BigIntegerField()
    seq = models.BigIntegerField(default=next_seq)
    available_on = models.BigIntegerField()
    status = models.CharField(max_length=16)  # pending | available
    source = models.CharField(max_length=255, blank=True, default="")
    # The automatic payout that paid this transaction out ("" = not yet).
    payout = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["account", "created", "seq"], name="sbx_bal_acct_created"),
            models.Index(
                fields=["account", "type", "created", "seq"], name="sbx_bal_acct_type_created"
            ),
            models.Index(fields=["account", "currency", "status"], name="sbx_bal_acct_cur_status"),
            models.Index(fields=["status", "available_on"], name="sbx_bal_status_avail"),
            models.Index(fields=["account", "payout"], name="sbx_bal_acct_payout"),
            models.Index(fields=["source"], name="sbx_bal_source"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.type} {self.net} {self.currency}"

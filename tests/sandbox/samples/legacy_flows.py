"""Run by tests/sandbox/test_samples_http.py under an older stripe-python (a subprocess with its
own interpreter): the calls Stripe's published samples make, through the module-level API of
that SDK, over HTTP to the sandbox. Argument: a JSON object with base, account. Prints JSON."""

from __future__ import annotations

import json
import sys

import stripe

args = json.loads(sys.argv[1])
stripe.api_key = "sk_test_sandbox_samples"
stripe.api_base = args["base"]
out: dict = {"sdk": stripe.VERSION, "pinned": stripe.api_version}

# accept-a-payment, custom flow: payment_method_types and pm_card_visa
intent = stripe.PaymentIntent.create(amount=5999, currency="usd", payment_method_types=["card"])
confirmed = stripe.PaymentIntent.confirm(intent.id, payment_method="pm_card_visa")
out["custom_flow"] = [intent.status, confirmed.status, confirmed.payment_method_types]

# a decline
try:
    stripe.PaymentIntent.create(
        amount=1000, currency="usd", payment_method="pm_card_chargeDeclined", confirm=True
    )
    out["decline"] = None
except stripe.error.CardError as exc:
    out["decline"] = [exc.http_status, exc.code, exc.error.decline_code]

# authentication required (3D Secure)
auth = stripe.PaymentIntent.create(
    amount=1000, currency="usd", payment_method="pm_card_authenticationRequired", confirm=True,
    return_url="https://example.com/return",
)  # fmt: skip
out["authentication"] = [auth.status, auth.next_action.type]

# connect-destination-charge: transfer_data and application_fee_amount
destination = stripe.PaymentIntent.create(
    amount=1400, currency="usd", transfer_data={"destination": args["account"]},
    application_fee_amount=140, payment_method="pm_card_visa", confirm=True,
)  # fmt: skip
charge = stripe.Charge.retrieve(destination.latest_charge, expand=["transfer"])
out["destination"] = [destination.status, charge.transfer.destination, charge.transfer.amount]

# a direct charge on the connected account
direct = stripe.PaymentIntent.create(
    amount=2000, currency="usd", application_fee_amount=200, payment_method="pm_card_visa",
    confirm=True, stripe_account=args["account"],
)  # fmt: skip
out["direct"] = [direct.status, direct.application_fee_amount]

out["accounts"] = len(stripe.Account.list(limit=10).data)
print(json.dumps(out))

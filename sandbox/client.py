"""How the marketplace's StripeClient reaches the sandbox in-process.

Placeholder until the sandbox issue lands: every request fails clearly instead of faking an answer.
"""

from __future__ import annotations

from typing import Any

import stripe

SANDBOX_SECRET_KEY = "sk_test_sandbox"
SANDBOX_API_BASE = "http://sandbox.invalid"


class SandboxHTTPClient(stripe.HTTPClient):
    name = "sandbox"

    def request(self, method: str, url: str, headers: Any, post_data: Any = None) -> Any:  # type: ignore[override]
        raise stripe.APIConnectionError("The Stripe sandbox is not available yet.")  # type: ignore[no-untyped-call]

    def close(self) -> None:
        return None

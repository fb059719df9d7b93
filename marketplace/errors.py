"""The project's small error hierarchy.

Services raise these; views turn them into messages. Nothing here leaks a Stripe type.
"""

from __future__ import annotations


class MarketplaceError(Exception):
    """Base class for errors the project raises on purpose."""


class UserFacingError(MarketplaceError):
    """Something the person asking can fix or should know; ``message`` is safe to show them."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class PaymentError(UserFacingError):
    """A payment or payments-provider failure, with a message safe to show."""

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable

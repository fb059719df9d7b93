"""Money: an integer amount of minor units plus an ISO 4217 currency. Never a float.

Stripe expresses every amount in the currency's smallest unit (cents for EUR, yen for JPY), so do we.
Currency codes are kept lower case, as Stripe returns them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Stripe's zero-decimal currencies: the amount is in whole units.
ZERO_DECIMAL_CURRENCIES = frozenset(
    """bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf""".split()  # noqa: SIM905
)
# Three-decimal currencies (Stripe requires the last digit to be 0, but the exponent is 3).
THREE_DECIMAL_CURRENCIES = frozenset(
    """bhd jod kwd omr tnd""".split()  # noqa: SIM905
)

# Currencies Stripe settles that this project knows how to display. Others still work as amounts.
KNOWN_CURRENCIES = frozenset(
    """aed all amd ang aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn bzd cad
    cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf
    gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak
    lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr
    nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos
    srd std szl thb tjs tnd top try ttd twd tzs uah ugx usd uyu uzs vnd vuv wst xaf xcd xof
    xpf yer zar zmw""".split()  # noqa: SIM905
)

SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£", "jpy": "¥", "chf": "CHF ", "inr": "₹", "krw": "₩"}


class CurrencyMismatch(ValueError):
    """Raised when two amounts in different currencies are combined."""


def exponent(currency: str) -> int:
    """Number of decimal digits of the currency's minor unit (2 for EUR, 0 for JPY)."""
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def normalize_currency(currency: str) -> str:
    code = currency.strip().lower()
    if len(code) != 3 or not code.isalpha() or not code.isascii():
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code")
    return code


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero, in integers only.

    The single rounding rule of the project: fees, pro-rata refunds and reversals all use it.
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder * 2 >= denominator:
        quotient += 1
    return sign * quotient


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (``amount``) of ``currency`` (lower-case ISO 4217 code)."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError(f"Money amount must be an int of minor units, not {self.amount!r}")
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_major(cls, value: str | int | Decimal, currency: str) -> Money:
        """Parse an amount in major units ("25.00" EUR -> 2500). Refuses sub-minor precision."""
        code = normalize_currency(currency)
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        scaled = number.scaleb(exponent(code))
        if scaled != scaled.to_integral_value():
            raise ValueError(
                f"{value} has more decimals than {code.upper()} allows ({exponent(code)})"
            )
        return cls(int(scaled), code)

    @staticmethod
    def sum(items: Iterable[Money], currency: str) -> Money:
        total = Money.zero(currency)
        for item in items:
            total = total + item
        return total

    # --- arithmetic ---------------------------------------------------------------------------
    def _check(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"cannot combine {self.currency.upper()} with {other.currency.upper()}"
            )
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._check(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._check(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise TypeError("Money can only be multiplied by an int")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._check(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._check(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._check(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._check(other).amount

    def __bool__(self) -> bool:
        return self.amount != 0

    def basis_points(self, bps: int) -> Money:
        """This amount times bps / 10,000, rounded half-up once."""
        return Money(round_half_up(self.amount * bps, 10_000), self.currency)

    def pro_rata(self, part: int, whole: int) -> Money:
        """This amount times part / whole, rounded half-up (the pro-rata rule for refunds)."""
        return Money(round_half_up(self.amount * part, whole), self.currency)

    # --- display ------------------------------------------------------------------------------
    @property
    def exponent(self) -> int:
        return exponent(self.currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-self.exponent)

    def major_str(self) -> str:
        """The amount in major units with the currency's decimals, e.g. '1234.50'."""
        return f"{self.to_decimal():.{self.exponent}f}"

    def format(self) -> str:
        """Human display: '€1,234.50', '¥1,200', '12.500 KWD'."""
        number = f"{abs(self.to_decimal()):,.{self.exponent}f}"
        sign = "-" if self.amount < 0 else ""
        symbol = SYMBOLS.get(self.currency)
        if symbol:
            return f"{sign}{symbol}{number}"
        return f"{sign}{number} {self.currency.upper()}"

    def __str__(self) -> str:
        return self.format()


def quantize_major(value: Decimal, currency: str) -> Decimal:
    """Round a Decimal in major units to the currency's precision, half-up (display helpers)."""
    return value.quantize(Decimal(1).scaleb(-exponent(currency)), rounding=ROUND_HALF_UP)


def price_example(currency: str) -> str:
    """An example price written in the currency's own format: '24.90' (EUR), '2490' (JPY),
    '24.900' (KWD), for help texts and error messages."""
    exp = exponent(currency)
    return Money(2490 * 10 ** max(0, exp - 2), currency).major_str() if exp else "2490"


def price_input_error(currency: str, *, what: str = "price") -> str:
    """The message for a price (or another amount: ``what``) that is not a number in
    ``currency``'s format."""
    try:
        code = normalize_currency(currency)
    except ValueError:
        return f"Enter the {what} as a number, e.g. 24.90."
    if exponent(code) == 0:
        return f"Enter the {what} as a whole number ({code.upper()} has no decimals), e.g. 2490."
    return f"Enter the {what} as a number, e.g. {price_example(code)}."

"""Course prices in Stripe's amounts.

A course price is stored in hundredths of its currency (``price_cents``). Stripe wants the
*smallest unit* of the currency: hundredths for most, whole units for zero-decimal currencies
(JPY 1500 is ``1500``), thousandths for three-decimal ones (whose last digit must be 0).
See Stripe's "Supported currencies" documentation.
"""

from __future__ import annotations

ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
     "XAF", "XOF", "XPF"}
)  # fmt: skip
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def to_stripe_amount(cents: int, currency: str) -> int | None:
    """Stripe's amount for ``cents`` hundredths of ``currency``; None when the currency has
    no such fraction (e.g. JPY 15.50)."""
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return cents // 100 if cents % 100 == 0 else None
    if code in THREE_DECIMAL:
        return cents * 10
    return cents

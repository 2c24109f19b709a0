"""Payments: paid courses through Stripe Checkout, signed webhooks, refunds (API.md §8)."""

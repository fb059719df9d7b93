"""Stripe events: intake, storage, processing."""

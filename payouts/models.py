"""Models of the payouts app."""

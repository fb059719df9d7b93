"""Models of the sellers app."""

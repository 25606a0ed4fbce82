"""Data packages and recipes."""

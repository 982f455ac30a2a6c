"""Derivative rules for NumPy."""

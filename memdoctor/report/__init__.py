"""Outputs: terminal (rich), live view, JSON."""

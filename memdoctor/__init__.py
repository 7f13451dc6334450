"""memdoctor: measure memory growth, classify leaks, and say what to cap."""

__version__ = "0.1.0"
